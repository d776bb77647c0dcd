import { readFileSync } from 'node:fs';
import { dashboardWidgets, drawDashboard, PICTURE, plotted } from '../../scripts/dashboard/picture';

describe('Docs: the dashboard picture', () => {
  const widgets = dashboardWidgets();

  it('is the dashboard the construct builds (npm run docs:dashboard redraws it)', () => {
    // Act
    const drawn = drawDashboard(widgets);

    // Assess
    expect(readFileSync(PICTURE, 'utf8')).toBe(drawn);
  });

  it('draws every widget with its title and something it plots', () => {
    // Act
    const picture = readFileSync(PICTURE, 'utf8');

    // Assess
    expect(widgets.length).toBeGreaterThanOrEqual(5);
    for (const widget of widgets) {
      expect(plotted(widget).length).toBeGreaterThan(0);
      if (widget.properties.title) expect(picture).toContain(widget.properties.title.slice(0, 20));
    }
    expect(picture).toContain('RetryRecovered');
  });
});
