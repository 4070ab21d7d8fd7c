// Frontend entry point. The JupyterLab plugin (RED panel, commands, streaming into
// cells) arrives with its own issue; for now the package exposes the RED core.
export * from './red';
