// CITATION.cff (Citation File Format 1.2.0) and codemeta.json (CodeMeta 3.0) stubs for a
// run's shareable bundle (`redlab export --zip`, the bridge's crate download), made from
// what the run's crate says. A scientist completes them before publishing (Zenodo reads
// both): what the crate cannot know is written as a "TODO: …" value where the format
// takes free text, and left out where it does not (a license must be an SPDX id, a DOI a
// DOI). Pure: no I/O.
import { stringify } from 'yaml';
import type { RunCrateSummary } from './run-crate-types';

export interface CitationOptions {
  /** The author's name: "Given Family", or "Family, Given". Default: the crate's author. */
  author?: string;
  affiliation?: string;
  /** An ORCID iD, bare (0000-0002-1825-0097) or as its https://orcid.org/ URL. Default: the crate author's. */
  orcid?: string;
  /** The dataset's title. Default: the crate's name, else a TODO. */
  title?: string;
}

export const CFF_VERSION = '1.2.0';
export const CODEMETA_CONTEXT = 'https://w3id.org/codemeta/3.0';
export const CITATION_KEYWORDS = ['reproducibility', 'RED Lab', 'Reproducible Experiment Description', 'Process Run Crate', 'RO-Crate', 'container'];

const TODO_TITLE = 'TODO: a title for this dataset';
const TODO_GIVEN = 'TODO: given names';
const TODO_FAMILY = 'TODO: family names';

/** The ISO 7064 11,2 check character of an ORCID iD's first 15 digits. */
function orcidCheck(digits: string): string {
  let total = 0;
  for (const d of digits) total = (total + Number(d)) * 2;
  const result = (12 - (total % 11)) % 11;
  return result === 10 ? 'X' : String(result);
}

/**
 * The https://orcid.org/ URL of an ORCID iD given bare or as a URL; an Error naming the
 * field when it is not one (wrong shape or check digit).
 */
export function orcidUrl(orcid: string, field = 'orcid'): string {
  const m = /^(?:https?:\/\/(?:www\.)?orcid\.org\/)?(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dXx])\/?$/.exec(orcid.trim());
  if (!m) throw new Error(`${field}: ${JSON.stringify(orcid)} is not an ORCID iD; write it as 0000-0002-1825-0097 or https://orcid.org/0000-0002-1825-0097`);
  const id = `${m[1]}-${m[2]}-${m[3]}-${m[4].toUpperCase()}`;
  const digits = id.replace(/-/g, '');
  if (orcidCheck(digits.slice(0, 15)) !== digits[15]) {
    throw new Error(`${field}: ${id} is not a valid ORCID iD (its last character, the check digit, does not match): copy it from your ORCID record`);
  }
  return `https://orcid.org/${id}`;
}

interface PersonName {
  given: string;
  family: string;
  /** A one-word name (a login name, say): kept as the person's alias, the real names to fill in. */
  alias?: string;
}

/** "Given Family" or "Family, Given"; one word is an alias (a user name), with the names to fill in. */
export function splitPersonName(name: string | undefined): PersonName {
  const n = (name ?? '').trim().replace(/\s+/g, ' ');
  if (!n) return { given: TODO_GIVEN, family: TODO_FAMILY };
  const comma = n.indexOf(',');
  if (comma > 0 && comma < n.length - 1) return { family: n.slice(0, comma).trim(), given: n.slice(comma + 1).trim() };
  const space = n.lastIndexOf(' ');
  if (space > 0) return { given: n.slice(0, space), family: n.slice(space + 1) };
  return { given: TODO_GIVEN, family: TODO_FAMILY, alias: n };
}

interface Author {
  name: PersonName;
  orcid?: string;
  affiliation?: string;
}

function authorOf(summary: RunCrateSummary, opts: CitationOptions): Author {
  const orcid = opts.orcid ?? (opts.author === undefined ? summary.author?.orcid : undefined);
  const affiliation = opts.affiliation?.trim();
  return {
    name: splitPersonName(opts.author ?? summary.author?.name),
    ...(orcid ? { orcid: orcidUrl(orcid, opts.orcid ? 'orcid' : "the crate author's ORCID") } : {}),
    ...(affiliation ? { affiliation } : {})
  };
}

/** An SPDX licence id (CFF's `license` takes only these) from an id or an spdx.org URL; undefined for anything else. */
export function spdxId(license: string | undefined): string | undefined {
  const l = license?.trim();
  if (!l) return undefined;
  const url = /^https?:\/\/spdx\.org\/licenses\/([A-Za-z0-9.+-]+?)(?:\.html|\.json)?\/?$/.exec(l);
  if (url) return url[1];
  return /^[A-Za-z0-9][A-Za-z0-9.+-]*$/.test(l) ? l : undefined;
}

const isHttpUrl = (s: string) => /^https?:\/\/[^\s]+$/.test(s);

/** The image as run, pinned: `repo@sha256:…` when pullable by digest, else its local image ID. */
export function pinnedImage(image: RunCrateSummary['image']): string {
  const digest = image.digest?.trim();
  if (image.pullable && digest) {
    if (digest.includes('@')) return digest;
    // Strip a tag (a ':' after the last '/') before adding the digest.
    const repo = image.url.replace(/@.*$/, '').replace(/:[^/:]*$/, '');
    return `${repo}@${digest}`;
  }
  return image.id ?? digest ?? image.url;
}

/** The date part (YYYY-MM-DD) of an ISO 8601 time, as written (the run's own offset). */
function datePart(iso: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})/.exec(iso ?? '');
  return m?.[1];
}

function runtimePlatform(engine: RunCrateSummary['engine']): string {
  const name = engine.name === 'docker' ? 'Docker' : engine.name;
  const isolated = engine.isolated === false ? ' (not isolated: no container)' : '';
  return `${name}${engine.version ? ` ${engine.version}` : ''}${isolated}`;
}

/** A run without a container (the process engine) used no image, whatever the RED names. */
const usedImage = (s: RunCrateSummary) => s.engine.isolated !== false;

/** The crate builder's own description when the run gave none: the abstract says more. */
const BUILDER_DEFAULT_DESCRIPTION = /^Process Run Crate of a RED Lab run\b/;

/** What ran, in one paragraph: the abstract's default. */
function runAbstract(s: RunCrateSummary): string {
  const command = s.command?.length ? `\`${s.command.join(' ')}\`` : 'a command-line tool';
  const where = usedImage(s) ? `in the container image ${pinnedImage(s.image)} on ${runtimePlatform(s.engine)}` : `with the programs of the machine it ran on (${runtimePlatform(s.engine)})`;
  const how = s.state === 'succeeded' ? 'succeeded' : s.state === 'failed' ? `failed${s.exitCode !== undefined ? ` (exit code ${s.exitCode})` : ''}` : 'was cancelled';
  const batch = s.batch ? `, batch ${s.batch.index + 1} of ${s.batch.count}` : '';
  const counts = `${s.inputs.length} input${s.inputs.length === 1 ? '' : 's'}, ${s.outputs.length} output${s.outputs.length === 1 ? '' : 's'}`;
  return (
    `The inputs, outputs and run record of a run of ${command} ${where}${batch}, ` +
    `described by a Reproducible Experiment Description (RED) and recorded by RED Lab as a Process Run Crate (RO-Crate). ` +
    `The run started ${s.startTime}, ended ${s.endTime} and ${how}; ${counts}.`
  );
}

function abstractOf(s: RunCrateSummary): string {
  const own = s.description?.trim();
  return own && !BUILDER_DEFAULT_DESCRIPTION.test(own) ? own : runAbstract(s);
}

function titleOf(s: RunCrateSummary, opts: CitationOptions): string {
  return opts.title?.trim() || s.name?.trim() || TODO_TITLE;
}

/** The CITATION.cff text (CFF 1.2.0, type dataset) of a run's bundle. */
export function citationCff(summary: RunCrateSummary, opts: CitationOptions = {}): string {
  const author = authorOf(summary, opts);
  const person: Record<string, string> = { 'given-names': author.name.given, 'family-names': author.name.family };
  if (author.name.alias) person.alias = author.name.alias;
  if (author.orcid) person.orcid = author.orcid;
  if (author.affiliation) person.affiliation = author.affiliation;
  const cff: Record<string, unknown> = {
    'cff-version': CFF_VERSION,
    message: 'If you use this dataset, please cite it using the metadata from this file.',
    type: 'dataset',
    title: titleOf(summary, opts),
    abstract: abstractOf(summary),
    authors: [person]
  };
  const released = datePart(summary.endTime);
  if (released) cff['date-released'] = released;
  const spdx = spdxId(summary.license);
  if (spdx) cff.license = spdx;
  else if (summary.license && isHttpUrl(summary.license.trim())) cff['license-url'] = summary.license.trim();
  cff.keywords = CITATION_KEYWORDS;
  const notes = [
    '# CITATION.cff of a RED Lab run (Citation File Format 1.2.0, https://citation-file-format.github.io).',
    '# Complete every "TODO:" value before publishing' +
      (spdx || cff['license-url'] ? '' : ', and add a license (an SPDX id, e.g. license: CC-BY-4.0)') +
      '; add the DOI (doi: 10.5281/zenodo.…) once the dataset has one.'
  ];
  // Strings double-quoted (as the CFF guide advises): a "TODO: …" or a date stays a string in every YAML reader.
  return `${notes.join('\n')}\n${stringify(cff, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', lineWidth: 0 })}`;
}

/** The codemeta.json object (CodeMeta 3.0) of a run's bundle: the experiment as software, its image as requirement. */
export function codemeta(summary: RunCrateSummary, opts: CitationOptions = {}): Record<string, unknown> {
  const author = authorOf(summary, opts);
  const person: Record<string, unknown> = { '@type': 'Person', givenName: author.name.given, familyName: author.name.family };
  if (author.orcid) person['@id'] = author.orcid;
  if (author.name.alias) person.alternateName = author.name.alias;
  if (author.affiliation) person.affiliation = { '@type': 'Organization', name: author.affiliation };
  const image = summary.image;
  const pinned = image.pullable ? !!image.digest : !!(image.id ?? image.digest);
  const requirement: Record<string, unknown> = {
    '@type': 'SoftwareApplication',
    name: image.url,
    identifier: pinnedImage(image),
    description: !pinned
      ? 'the container image the run used, by name only: the crate records neither its digest nor its image ID'
      : image.pullable
        ? 'the container image the run used, pinned by digest'
        : 'the container image the run used, built locally: its image ID (not pullable from a registry)'
  };
  const meta: Record<string, unknown> = {
    '@context': CODEMETA_CONTEXT,
    '@type': 'SoftwareSourceCode',
    name: titleOf(summary, opts),
    description: abstractOf(summary),
    author: [person]
  };
  const spdx = spdxId(summary.license);
  if (spdx) meta.license = `https://spdx.org/licenses/${spdx}`;
  else if (summary.license && isHttpUrl(summary.license.trim())) meta.license = summary.license.trim();
  const created = datePart(summary.startTime);
  if (created) meta.dateCreated = created;
  if (usedImage(summary)) meta.softwareRequirements = [requirement];
  meta.runtimePlatform = runtimePlatform(summary.engine);
  meta.keywords = CITATION_KEYWORDS;
  return meta;
}
