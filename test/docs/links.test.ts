import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { ROOT } from '../support';

/** The prose of a Markdown file: fenced code blocks dropped, so samples are not read as links or headings. */
function prose(file: string): string {
  return readFileSync(file, 'utf8').replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens; repeats get -1, -2 … */
function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, text] of prose(file).matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = (text ?? '')
      .replace(/`/g, '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

const markdown = [
  ...['README.md', 'CHANGELOG.md', 'CONTRIBUTING.md', 'SECURITY.md'].filter((f) => existsSync(join(ROOT, f))),
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
];

describe('Docs: links', () => {
  it.each(markdown)('%s links only to files and headings that exist', (file) => {
    // Prepare
    const path = join(ROOT, file);

    // Act
    const broken: string[] = [];
    for (const [, target] of prose(path).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (!target || /^[a-z]+:/i.test(target)) continue;
      const [where = '', anchor] = target.split('#');
      const linked = where === '' ? path : join(dirname(path), decodeURIComponent(where));
      if (!existsSync(linked)) {
        broken.push(`${target}: no file ${relative(ROOT, linked)}`);
      } else if (anchor && !(statSync(linked).isFile() && linked.endsWith('.md') && anchorsOf(linked).has(anchor))) {
        broken.push(`${target}: no heading #${anchor} in ${relative(ROOT, linked)}`);
      }
    }

    // Assess
    expect(broken).toEqual([]);
  });

  it('reads GitHub anchors as GitHub makes them', () => {
    // Act
    const anchors = anchorsOf(join(ROOT, 'README.md'));

    // Assess: the README's own table of contents uses these.
    expect(anchors).toContain('quick-start');
    expect(anchors).toContain('why-not-codepipelines-own-automatic-retry');
    expect(anchors).toContain('the-autoretry-cli-in-brief');
  });
});
