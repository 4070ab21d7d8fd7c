// RED Lab's icon (left sidebar tab, commands, toolbar button); it follows the theme.
import { LabIcon } from '@jupyterlab/ui-components';
import redlabSvgstr from '../style/icons/redlab.svg';

export const redlabIcon = new LabIcon({ name: 'jupyterlab-redlab:icon', svgstr: redlabSvgstr });
