// Icons of the container-cell commands (cell toolbar, context menu); they follow the theme.
import { LabIcon } from '@jupyterlab/ui-components';
import containerSvgstr from '../../style/icons/container-cell.svg';
import gpuSvgstr from '../../style/icons/gpu-cell.svg';

export const containerCellIcon = new LabIcon({ name: 'jupyterlab-redlab:container-cell', svgstr: containerSvgstr });
export const gpuCellIcon = new LabIcon({ name: 'jupyterlab-redlab:gpu-cell', svgstr: gpuSvgstr });
