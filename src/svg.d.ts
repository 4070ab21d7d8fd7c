// SVG files import as their text (JupyterLab's builder loads them as asset/source).
declare module '*.svg' {
  const svgstr: string;
  export default svgstr;
}
