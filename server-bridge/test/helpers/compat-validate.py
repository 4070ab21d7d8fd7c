#!/usr/bin/env python3
"""Curious Containers' own verdict on RED files: cc-core / red-val, called the way faice calls them.

Usage: compat-validate.py [--with-data] FILE...   (run by the cc-core environment's python, .venv/tools/cc-core/bin/python)

Prints one JSON verdict per file, one per line:
  {"file", "ok", "check", "error", "message", "detail", "execution", "versions"}
and, with --with-data, "data": the document as faice's loader read it (a value JSON cannot hold, such as a
timestamp read from an unquoted date, appears as {"__python__": type, "repr": ...}).
check is the step that refused the file (None when ok); error is cc's exception class and message cc's own text;
detail, for a schema refusal, is jsonschema's best match inside RED's oneOf (cc's own message only says
"not valid under any of the given schemas" at "/"). Exit status 0 when every file passed, 1 when cc refused one.

The steps are those `faice exec` takes before it runs anything (cc_faice/exec/main.py and
cc_faice/execution_engine/red_execution_engine.py in cc-faice 9.3): faice's loader (ruamel.yaml safe), the
secret scan, red_validation (keys are strings, RED 9 jsonschema, job values against the cli types, output globs),
the container engine against cc-core's docker schema, the execution engine (when the RED names one) against
ccfaice/ccagency, and the conversion to restricted RED (input references in globs resolved). RED variables
(`{{name}}`) are allowed, as faice allows them before it asks for their values.
"""
import copy
import json
import sys
from importlib.metadata import version

from jsonschema import Draft4Validator
from jsonschema.exceptions import best_match

from cc_core.commons.engines import engine_validation
from cc_core.commons.files import load_and_read
from cc_core.commons.red_secrets import get_secret_values
from cc_core.commons.red_to_restricted_red import convert_red_to_restricted_red
from red_val.red_validation import red_validation
from red_val.schemas.red import red_schema

VERSIONS = {name: version(name) for name in ('cc-core', 'cc-faice', 'red-val', 'jsonschema')}


def schema_detail(red_data):
    """Where the file goes wrong inside RED's oneOf (a single RED or a batch RED): jsonschema's best match
    among the errors of the branch the file is meant for (it has `batches` or not)."""
    branch = dict(red_schema['oneOf'][1 if isinstance(red_data, dict) and 'batches' in red_data else 0])
    branch['definitions'] = red_schema['definitions']
    error = best_match(Draft4Validator(branch).iter_errors(red_data))
    if error is None:
        return None
    where = '/'.join(str(p) for p in error.absolute_path) or '/'
    return '{}: {}'.format(where, error.message)


def as_json(o):
    return {'__python__': type(o).__name__, 'repr': repr(o)}


def verdict(path, with_data=False):
    result = {'file': path, 'ok': False, 'check': None, 'error': None, 'message': None, 'detail': None,
              'execution': None, 'versions': VERSIONS}
    steps = [
        ('load', lambda d: None),
        ('secrets', get_secret_values),
        ('red_validation', lambda d: red_validation(d, False)),
        ('container-engine', lambda d: engine_validation(d, 'container', ['docker'], optional=False)),
        ('execution-engine', lambda d: engine_validation(d, 'execution', ['ccfaice', 'ccagency'], optional=True)),
        ('restricted-red', lambda d: convert_red_to_restricted_red(copy.deepcopy(d))),
    ]
    red_data = None
    for name, step in steps:
        try:
            if name == 'load':
                red_data = load_and_read(path, 'REDFILE')
                if with_data:
                    result['data'] = red_data
            else:
                step(red_data)
        except Exception as e:  # cc's errors are plain Exceptions of several classes: report which
            result.update(check=name, error=type(e).__name__, message=str(e))
            if name == 'red_validation' and 'jsonschema' in str(e):
                result['detail'] = schema_detail(red_data)
            return result
    result['ok'] = True
    execution = red_data.get('execution')
    result['execution'] = execution.get('engine') if isinstance(execution, dict) else None
    return result


def main(argv):
    with_data = '--with-data' in argv
    files = [a for a in argv if a != '--with-data']
    if not files:
        print('usage: compat-validate.py [--with-data] FILE...', file=sys.stderr)
        return 2
    all_ok = True
    for path in files:
        v = verdict(path, with_data)
        all_ok = all_ok and v['ok']
        print(json.dumps(v, sort_keys=True, default=as_json), flush=True)
    return 0 if all_ok else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
