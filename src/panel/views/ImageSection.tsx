// Image: free text (with the bridge's local images offered), a select of the local
// images, and a build from the notebook folder's requirements.txt / environment.yml
// with its progress.
import * as React from 'react';
import type { ExperimentModel } from '../experiment-model';
import { buildFailureSummary } from '../image-build';
import type { RedPanelModel } from '../panel-model';
import { Field, FieldIssues, hasError, Section } from './common';

export interface ImageSectionProps {
  model: ExperimentModel;
  panel: RedPanelModel;
  /** The chosen engine (its images are listed); undefined: the bridge's default. */
  engine?: string;
  /** The chosen engine builds images (capability imageBuilds): else no build button. */
  imageBuilds: boolean;
  canBuild: boolean;
  onBuild: () => void;
}

export function ImageSection({ model, panel, engine, imageBuilds, canBuild, onBuild }: ImageSectionProps): JSX.Element {
  const image = model.draft.image;
  const tags = panel.images.flatMap(i => i.tags);
  const build = panel.build;
  const listId = 'jp-RedLab-images';
  return (
    <Section title="Image" testId="redlab-image-section">
      <Field label="Image" hint="A Docker image with python3 (the notebook runs there with the standard library and what the image adds)" invalid={hasError(model, 'image')}>
        <input
          className="jp-mod-styled jp-RedLab-input"
          data-testid="redlab-image-input"
          list={listId}
          value={image}
          placeholder="redlab/debian-python:12"
          spellCheck={false}
          onChange={e => model.setImage(e.target.value)}
        />
        <datalist id={listId}>
          {tags.map(t => (
            <option key={t} value={t} />
          ))}
        </datalist>
      </Field>
      <FieldIssues model={model} field="image" />
      <div className="jp-RedLab-field">
        <select
          className="jp-mod-styled jp-RedLab-select"
          data-testid="redlab-image-select"
          value={tags.includes(image) ? image : ''}
          onChange={e => e.target.value && model.setImage(e.target.value)}
          onFocus={() => void panel.refreshImages(engine)}
          title={panel.imagesError ? `The bridge could not list its images: ${panel.imagesError}` : 'Images the Docker engine has locally'}
        >
          <option value="">{tags.length ? 'Local images…' : panel.imagesError ? 'Local images: not available' : 'Local images: none yet'}</option>
          {tags.map(t => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        {imageBuilds ? (
          <button
            className="jp-mod-styled jp-RedLab-button jp-RedLab-wide"
            data-testid="redlab-build-image"
            disabled={!canBuild || build?.status === 'running'}
            title={canBuild ? "Build an image from this folder's requirements.txt / environment.yml on top of the default image" : 'Building needs the bridge and its Docker engine'}
            onClick={onBuild}
          >
            Build from requirements.txt / environment.yml
          </button>
        ) : null}
      </div>
      {build ? <BuildProgress build={build} onClose={() => panel.setBuild(null)} /> : null}
    </Section>
  );
}

function BuildProgress({ build, onClose }: { build: NonNullable<RedPanelModel['build']>; onClose: () => void }): JSX.Element {
  const pre = React.useRef<HTMLPreElement>(null);
  React.useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [build.lines.length]);
  const title =
    build.status === 'running'
      ? `Building${build.stepIndex && build.stepCount ? `: step ${build.stepIndex}/${build.stepCount}` : '…'}`
      : build.status === 'succeeded'
        ? `Built ${build.tag}${build.cached ? ' (reused: built before)' : ''}`
        : 'Build failed';
  return (
    <div className={`jp-RedLab-build jp-RedLab-build-${build.status}`} data-testid="redlab-build-progress">
      <div className="jp-RedLab-row">
        <span className="jp-RedLab-grow">{title}</span>
        {build.status !== 'running' ? (
          <button className="jp-RedLab-link" onClick={onClose}>
            close
          </button>
        ) : null}
      </div>
      {build.status === 'failed' ? (
        <div className="jp-RedLab-field-error" title={build.error}>
          {buildFailureSummary(build)}
        </div>
      ) : null}
      {build.stepIndex && build.stepCount && build.status === 'running' ? <progress max={build.stepCount} value={build.stepIndex} /> : null}
      {build.lines.length ? <pre ref={pre}>{build.lines.join('\n')}</pre> : null}
    </div>
  );
}
