// The RED panel as a left sidebar widget (id `redlab-panel`).
import * as React from 'react';
import { ReactWidget } from '@jupyterlab/ui-components';
import { redlabIcon } from '../icons';
import { RedPanel, type RedPanelProps } from './views/RedPanel';

export const PANEL_ID = 'redlab-panel';

export class RedPanelWidget extends ReactWidget {
  constructor(private readonly props: RedPanelProps) {
    super();
    this.id = PANEL_ID;
    this.title.icon = redlabIcon;
    this.title.caption = 'RED Lab: run this notebook as a container experiment';
    this.addClass('jp-RedLab-sidebar');
  }

  protected onAfterShow(): void {
    // The image list is only worth asking for when someone looks.
    void this.props.panel.refreshImages();
  }

  render(): JSX.Element {
    return <RedPanel {...this.props} />;
  }
}
