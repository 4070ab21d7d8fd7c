// Docker image references (`[registry[:port]/]path[:tag][@algorithm:hex]`, the grammar of
// distribution/reference, as the Docker engine parses them), checked before a run: an
// invalid one otherwise ends deep in the engine's HTTP client ("Request path contains
// unescaped characters"). Image IDs (`sha256:<64 hex>`) are accepted too: a re-run pins
// its image by ID. Pure.

export type ImageRefCheck = { ok: true } | { ok: false; message: string; fix: string };

const EXAMPLE = 'e.g. redlab/busybox:1, python:3.12-slim or registry.example.org:5000/team/tool:2.0';
const FIX = `write it as [registry[:port]/]name[:tag][@sha256:digest], the name in lowercase letters, digits and . _ - separated by /, ${EXAMPLE}`;
const MAX_NAME = 255;

const IMAGE_ID = /^sha256:[a-f0-9]{64}$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

function bad(message: string, fix = FIX): ImageRefCheck {
  return { ok: false, message, fix };
}

/** Whether the first part of a name is a registry (host[:port]) rather than a path component. */
function isDomain(first: string): boolean {
  return first === 'localhost' || first.includes('.') || first.includes(':') || /[A-Z]/.test(first);
}

function checkDomain(domain: string, ref: string): ImageRefCheck | undefined {
  const [host, port, ...rest] = domain.split(':');
  if (rest.length || (port !== undefined && !/^\d{1,5}$/.test(port))) {
    return bad(`image "${ref}": the registry "${domain}" has an invalid port`, `write the registry as host:port with a number as port, ${EXAMPLE}`);
  }
  if (!host.split('.').every(c => DOMAIN_COMPONENT.test(c))) {
    return bad(`image "${ref}": "${host}" is not a valid registry host name (letters, digits, - and . only)`);
  }
  return undefined;
}

/** Whether `ref` is a Docker image reference the engine takes; otherwise what is wrong and how to fix it. */
export function checkImageReference(ref: string): ImageRefCheck {
  if (ref === '') return bad('the image is empty', `give an image, ${EXAMPLE}`);
  if (ref.trim() !== ref) return bad(`image "${ref}" starts or ends with spaces`, 'remove the spaces around the image name');
  if (/\s/.test(ref)) return bad(`image "${ref}" contains spaces: an image name has none`);
  if (IMAGE_ID.test(ref)) return { ok: true };

  let rest = ref;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return bad(`image "${ref}": "@${digest}" is not a valid digest`, 'write a digest as @sha256:<64 hexadecimal digits>, or leave it out');
  }
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  let name = rest;
  if (colon > lastSlash) {
    const tag = rest.slice(colon + 1);
    name = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      return bad(`image "${ref}": the tag "${tag}" is not valid (letters, digits, _ . - only, at most 128, not starting with . or -)`, `write a tag like :1, :latest or :3.12-slim, ${EXAMPLE}`);
    }
  }
  if (name === '') return bad(`image "${ref}" has no image name`);
  if (name.length > MAX_NAME) return bad(`image "${ref}": the name is longer than ${MAX_NAME} characters`);
  const parts = name.split('/');
  if (parts.length > 1 && isDomain(parts[0])) {
    const problem = checkDomain(parts[0], ref);
    if (problem) return problem;
    parts.shift();
  }
  for (const part of parts) {
    if (PATH_COMPONENT.test(part)) continue;
    if (part === '') return bad(`image "${ref}" has an empty part between slashes`);
    if (/[A-Z]/.test(part) && PATH_COMPONENT.test(part.toLowerCase())) {
      return bad(`image "${ref}": image names are lowercase ("${part}" has capitals)`, `write "${part.toLowerCase()}"; ${FIX}`);
    }
    return bad(`image "${ref}": "${part}" is not a valid part of an image name (lowercase letters, digits, and . _ - between them)`);
  }
  return { ok: true };
}
