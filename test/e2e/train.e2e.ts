// Scenario 1: train a char LSTM from the command palette on a workspace text; the dashboard shows a loss
// curve that went down and a sample of generated text. Light theme first; switched to dark mid-run, the
// chart text follows (read from the chart's canvas). The end of the run is announced with its next steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Session, withSession, scaled, waitFor } from './harness';
import { SMALL_TRAINING, TRAIN_TITLE, dashboard, losses, shakespeare, text, waitForRunStatus } from './gatescope';

const LIGHT = 'Default Light Modern';
const DARK = 'Default Dark Modern';

/** Relative luminance of a CSS colour as the webview reports it (#rrggbb[aa] or rgb()). */
function luminance(color: string): number {
  const hex = /^#([0-9a-f]{6})/i.exec(color.trim());
  const rgb = hex ? [0, 2, 4].map((k) => parseInt(hex[1].slice(k, k + 2), 16)) : (color.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number);
  const [r, g, b] = rgb.map((v) => v / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** Picks a colour theme the way a user does (Preferences: Color Theme). */
async function colourTheme(s: Session, theme: string): Promise<void> {
  await s.runCommand('Preferences: Color Theme');
  await s.pickQuickItem(theme);
}

test('Train char LSTM: loss goes down, a sample appears, colours follow the theme', { timeout: scaled(420_000) }, async () => {
  await withSession({ name: 'train', files: { 'shakespeare.txt': shakespeare() },
    // A model big enough that the run is still training when the theme has been switched there and back.
    settings: { ...SMALL_TRAINING, 'gatescope.steps': 5000, 'gatescope.hiddenSize': 256, 'workbench.colorTheme': LIGHT } }, async (s) => {
    await s.openFile('shakespeare.txt');
    await s.runCommand(TRAIN_TITLE);
    const prompts = await s.acceptPrompts();
    const frame = await dashboard(s);
    const textColor = () => frame.locator('#loss-chart').getAttribute('data-text-color').then((c) => c ?? '');
    const light = await textColor();
    assert.ok(luminance(light) < 0.3, `chart text on the light theme is not dark: ${light}`);
    // The first minutes: empty charts say when they fill.
    const early = await text(frame, '#saturation-empty');
    await s.screenshot('training-light');

    // Switch the colour theme while it trains: the chart text follows.
    await colourTheme(s, DARK);
    const dark = await waitFor('the chart text colour to follow the dark theme', async () => {
      const c = await textColor();
      return luminance(c) > 0.4 ? c : undefined;
    }, 30_000, 250);
    const status = await text(frame, '#run-status');
    assert.match(status, /training/, 'the run ended before the theme switch: it was not checked mid-run');
    await s.screenshot('training-dark');
    const eta = await text(frame, '#eta');
    await colourTheme(s, LIGHT);
    await waitFor('the chart text colour to follow the light theme again', async () => luminance(await textColor()) < 0.3 || undefined, 30_000, 250);

    await waitForRunStatus(frame, ['done']);
    const { first, last } = await losses(frame);
    assert.ok(last < first, `the loss did not go down: first ${first}, last ${last} (prompts: ${prompts.join('; ') || 'none'})`);
    await frame.locator('#loss-chart').waitFor({ state: 'visible' });
    const sample = await s.waitForText(frame, '#sample-text .sample pre', 'a generated sample on the dashboard', 120_000);
    assert.ok(sample.length >= 20, `sample too short: "${sample}"`);
    // Each sample once (the end-of-run sample at 0.8 replaces the trainer's sample of that step).
    const shownSamples = await frame.locator('#sample-text .sample').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-step')}@${e.getAttribute('data-temperature')}`));
    assert.equal(new Set(shownSamples).size, shownSamples.length, `a sample is listed twice: ${shownSamples.join(', ')}`);
    // Bits per char next to nats, elapsed time, the checkpoint path in plain sight.
    assert.match(await text(frame, '#last-loss-sub'), /nats\/char · [\d.]+ bits\/char/);
    // What the validation figure covers: the whole split at the end (a bounded part of it during the run).
    assert.match(await text(frame, '#val-loss-sub'), /on the whole split/);
    assert.match(await text(frame, '#elapsed'), /\d+ (s|min)/);
    assert.match(await text(frame, '#checkpoint-path'), /\.safetensors$/);
    assert.ok(Number(await frame.locator('#saturation-chart').getAttribute('data-points')) > 0, 'no gate saturation points');
    assert.equal(await frame.locator('#grad-chart').getAttribute('data-clip'), '5', 'no clip line at the default clip 5');
    // (A toast hides after a while: read it in the notification centre.)
    await s.runCommand('Notifications: Show Notifications');
    const announced = await waitFor('the end-of-run notification with its actions', async () => {
      const n = (await s.notifications()).find((t) => /finished 5,?000 steps/.test(t));
      return n && /Trace/.test(n) && /Reveal checkpoint/.test(n) ? n : undefined;
    }, 60_000, 500);
    await s.screenshot('done-notification');
    await s.page.keyboard.press('Escape');
    await frame.locator('#saturation-chart').scrollIntoViewIfNeeded();
    await s.screenshot('done-charts');
    await frame.locator('#sample-text').scrollIntoViewIfNeeded();
    await s.screenshot('done');
    // Log scale: the loss chart only, a few round ticks that do not collide.
    await frame.locator('#log-scale').check();
    const ticks = await waitFor('log-scale ticks on the loss chart', async () => (await frame.locator('#loss-chart').getAttribute('data-y-ticks')) || undefined, 30_000, 250);
    const labels = ticks.split(' ');
    assert.ok(labels.length >= 2 && labels.length <= 10 && new Set(labels).size === labels.length, `log ticks: ${ticks}`);
    await frame.locator('#loss-chart').scrollIntoViewIfNeeded();
    await s.screenshot('log-scale');
    await s.page.setViewportSize({ width: 900, height: 900 }); // a narrow window: stat cards in two columns at least
    await frame.locator('#step').scrollIntoViewIfNeeded();
    await s.screenshot('done-900px');
    if (early) assert.match(early, /appears after the first evaluation at step \d+/); // (empty when it had evaluated already)
    assert.ok(dark, 'theme switch checked');
    assert.match(eta, /≈ \d+ (s|min)/, `no ETA while training: "${eta}"`);
    assert.match(announced, /loss [\d.]+ nats/);
  });
});
