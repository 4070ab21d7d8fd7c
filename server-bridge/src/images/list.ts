// Local images a run can use: every image with a name (`repo:tag`) or a registry
// digest. Dangling images (`<none>:<none>`, no digest) are left out.
import type Dockerode from 'dockerode';
import { BUILD_LABEL } from './build';
import type { LocalImage } from './types';

export interface ListImagesOptions {
  /** Only images the bridge built (label redlab.build=1). */
  builtOnly?: boolean;
}

/** Local images, newest first. */
export async function listImages(docker: Dockerode, opts: ListImagesOptions = {}): Promise<LocalImage[]> {
  const infos = await docker.listImages({
    all: false,
    ...(opts.builtOnly ? { filters: JSON.stringify({ label: [`${BUILD_LABEL}=1`] }) } : {})
  });
  const out: LocalImage[] = [];
  for (const i of infos) {
    const tags = (i.RepoTags ?? []).filter(t => t && !t.startsWith('<none>'));
    const digests = (i.RepoDigests ?? []).filter(d => d && !d.startsWith('<none>'));
    if (!tags.length && !digests.length) continue;
    const img: LocalImage = {
      id: i.Id,
      tags: [...tags].sort(),
      size: i.Size,
      created: new Date(i.Created * 1000).toISOString(),
      labels: i.Labels ?? {}
    };
    if (digests.length) img.digest = digests[0];
    out.push(img);
  }
  return out.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : a.id < b.id ? -1 : 1));
}
