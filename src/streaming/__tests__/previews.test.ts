import { csvHead, jsonPreview, pngPreview, previewTypeOf, svgPreview } from '../previews';
import { formatBytes, formatDuration, sparklineSvg } from '../html';

describe('output previews', () => {
  it('previews only the enabled types, by file name', () => {
    expect(previewTypeOf('walk.svg', ['svg', 'png'])).toBe('svg');
    expect(previewTypeOf('plot.PNG', ['png'])).toBe('png');
    expect(previewTypeOf('data.csv', ['png'])).toBeUndefined();
    expect(previewTypeOf('model.pkl', ['png', 'svg', 'csv', 'json'])).toBeUndefined();
  });

  it('reads the head of a CSV file, quotes and all', () => {
    const text = 'a,b\n1,"x, y"\n2,"say ""hi"""\n' + Array.from({ length: 20 }, (_, i) => `${i},z`).join('\n');
    const head = csvHead(text, 3);
    expect(head.rows).toEqual([
      ['a', 'b'],
      ['1', 'x, y'],
      ['2', 'say "hi"']
    ]);
    expect(head.more).toBe(true);
    expect(csvHead('step;pos\r\n1;0.5\r\n', 10)).toEqual({ rows: [['step', 'pos'], ['1', '0.5']], more: false });
  });

  it('pretty-prints JSON metrics and refuses what is not JSON', () => {
    expect(jsonPreview('{"acc":0.9}')).toEqual({ kind: 'json', text: '{\n  "acc": 0.9\n}' });
    expect(jsonPreview('nope').kind).toBe('none');
  });

  it('embeds PNG and SVG images as data URIs, after checking what they are', () => {
    const png = pngPreview(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png).toEqual({ kind: 'image', dataUri: 'data:image/png;base64,iVBORw0KGgo=' });
    expect(pngPreview(new Uint8Array([1, 2, 3])).kind).toBe('none');
    expect(svgPreview('<svg xmlns="http://www.w3.org/2000/svg"></svg>')).toMatchObject({ kind: 'image', dataUri: expect.stringMatching(/^data:image\/svg\+xml/) });
  });
});

describe('cell text helpers', () => {
  it('writes sizes and durations for people', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(2048)).toBe('2.0 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
    expect(formatDuration(336)).toBe('336 ms');
    expect(formatDuration(20_000)).toBe('20 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
  });

  it('draws a sparkline scaled to its maximum', () => {
    const svg = sparklineSvg([0, 50, 100], { width: 100, height: 20, max: 100 });
    expect(svg).toContain('points="0.0,19.0 50.0,10.0 100.0,1.0"');
  });
});
