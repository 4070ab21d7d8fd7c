// splitCwlType: the parts of a type as written, valid or not (parseCwlType is the strict one).
import { parseCwlType, splitCwlType } from '../index';

describe('splitCwlType', () => {
  it.each([
    ['int', { base: 'int', array: false, optional: false }],
    ['File[]', { base: 'File', array: true, optional: false }],
    ['float?', { base: 'float', array: false, optional: true }],
    [' string[]? ', { base: 'string', array: true, optional: true }],
    ['stdout', { base: 'stdout', array: false, optional: false }],
    ['strng[]', { base: 'strng', array: true, optional: false }]
  ])('%j → %j', (text, parts) => {
    expect(splitCwlType(text)).toEqual(parts);
  });

  it('agrees with the strict parser on every valid type', () => {
    for (const base of ['File', 'Directory', 'string', 'int', 'long', 'float', 'double', 'boolean'])
      for (const text of [base, `${base}[]`, `${base}?`, `${base}[]?`]) {
        const strict = parseCwlType(text);
        expect(strict).toBeDefined();
        expect(splitCwlType(text)).toEqual({ base: strict?.base, array: strict?.array, optional: strict?.optional });
      }
  });
});
