import { colourOf, colourWanted, makeStyle, renderTable } from '../../../cli/format';

describe('Function: colourWanted', () => {
  it.each<[string, boolean, NodeJS.ProcessEnv, boolean]>([
    ['a terminal', true, {}, true],
    ['a pipe', false, {}, false],
    ['a terminal with NO_COLOR', true, { NO_COLOR: '1' }, false],
    ['a pipe with FORCE_COLOR', false, { FORCE_COLOR: '1' }, true],
    ['a terminal with FORCE_COLOR=0', true, { FORCE_COLOR: '0' }, true],
    ['a pipe with FORCE_COLOR=0', false, { FORCE_COLOR: '0' }, false],
  ])('on %s gives %s', (_case, tty, env, expected) => {
    expect(colourWanted(tty, env)).toBe(expected);
  });
});

describe('Function: renderTable', () => {
  it('pads every column to its widest cell and leaves no trailing spaces', () => {
    // Act
    const lines = renderTable(
      ['A', 'LONGER', 'LAST'],
      [
        ['x', 'y', 'z'],
        ['wide cell', '', 'end'],
      ],
      makeStyle(false),
    );

    // Assess
    expect(lines).toEqual(['A          LONGER  LAST', 'x          y       z', 'wide cell          end']);
  });

  it('colours cells only when the style is enabled', () => {
    // Act
    const plain = renderTable(['H'], [[{ text: 'retried', colour: colourOf('retried') }]], makeStyle(false));
    const coloured = renderTable(['H'], [[{ text: 'retried', colour: colourOf('retried') }]], makeStyle(true));

    // Assess
    expect(plain[1]).toBe('retried');
    expect(coloured[1]).toBe('\u001b[32mretried\u001b[39m');
  });
});
