// What the bridge's state means for the user, plainly: nothing when connected; what
// to do when it is not running or has no engine that can run (Binder without Docker). Editing, validation
// and export work without it.
import * as React from 'react';
import type { BridgeStatus } from '../../tokens';

export function BridgeMessage({ status }: { status: BridgeStatus }): JSX.Element | null {
  if (status.kind === 'connected') return null;
  const title = status.kind === 'unknown' ? 'Looking for the RED Lab bridge…' : status.kind === 'no-engine' ? 'No engine available: runs cannot start here' : 'The RED Lab bridge is not running';
  return (
    <div className={`jp-RedLab-bridge jp-RedLab-bridge-${status.kind}`} data-testid="redlab-bridge-message" role="status">
      <strong>{title}</strong>
      {status.kind !== 'unknown' ? <div>{status.message}</div> : null}
      {status.kind !== 'unknown' ? <div className="jp-RedLab-muted">You can still edit the experiment, check it and export the RED file to run it elsewhere (npx redlab run FILE).</div> : null}
    </div>
  );
}
