import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's chromium; `.ci/run` installs it when missing. Absent means the test fails, never skips. */
export const CHROMIUM = '/usr/bin/chromium';

export interface DrawnChart {
  id: string;
  type: string;
  datasetLabels: string[];
  /** The category axis' labels (the stress report's time buckets). */
  labels: string[];
  /** Datasets' extra `ratios` (the numbers written on the bench's bars). */
  ratios: string[][];
  pointCount: number;
  /** Canvas pixels that are not fully transparent: proof that something was drawn. */
  inkedPixels: number;
  width: number;
  height: number;
}

export interface RenderedReport {
  charts: DrawnChart[];
  checks: { passed: boolean; text: string }[];
  headline: string;
  consoleErrors: string[];
  pageErrors: string[];
  /** Every URL the page asked for, including blocked ones. */
  requests: string[];
}

/**
 * Debian's Chromium, headless, with a fresh profile and none of its own network traffic (this
 * machine's network is closed; background requests would be refused many at a time).
 */
export async function launchChromium(
  profilePrefix: string,
  viewport?: { width: number; height: number },
): Promise<{ context: BrowserContext; profile: string }> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: npm test installs it (scripts/ensure-test-system.sh)`);
  const profile = mkdtempSync(join(tmpdir(), profilePrefix));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
    ...(viewport ? { viewport } : {}),
  });
  return { context, profile };
}

/**
 * Opens a report file in headless Chromium with a fresh profile, records every request
 * (anything other than file:/data: is blocked and recorded), reads back what each chart drew,
 * and saves a full-page screenshot.
 */
export async function renderInBrowser(htmlPath: string, screenshotPath: string): Promise<RenderedReport> {
  const { context, profile } = await launchChromium('report-chromium-', { width: 1200, height: 900 });
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  const requests: string[] = [];
  try {
    await context.route('**/*', (route) => {
      const url = route.request().url();
      requests.push(url);
      return /^(file|data):/.test(url) ? route.continue() : route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('requestfailed', (request) => consoleErrors.push(`request failed: ${request.url()}`));
    await page.goto(pathToFileURL(htmlPath).href, { waitUntil: 'load' });
    // Strings, not functions: the page's globals (Chart, document) are not in this project's types.
    const charts = (await page.evaluate(`[...document.querySelectorAll('canvas')].map((canvas) => {
      const chart = Chart.getChart(canvas);
      const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let inked = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) inked++;
      return {
        id: canvas.id,
        type: chart ? chart.config.type : 'none',
        datasetLabels: chart ? chart.data.datasets.map((d) => d.label) : [],
        labels: chart && chart.data.labels ? chart.data.labels.map(String) : [],
        ratios: chart ? chart.data.datasets.filter((d) => d.ratios).map((d) => d.ratios) : [],
        pointCount: chart ? chart.data.datasets.reduce((n, d) => n + d.data.length, 0) : 0,
        inkedPixels: inked,
        width: canvas.width,
        height: canvas.height,
      };
    })`)) as DrawnChart[];
    const checks = (await page.evaluate(
      `[...document.querySelectorAll('#checks li')].map((li) => ({ passed: li.className === 'pass', text: li.textContent }))`,
    )) as RenderedReport['checks'];
    const headline = (await page.evaluate(
      `document.querySelector('h1').textContent + ' | ' + document.querySelector('.summary').textContent`,
    )) as string;
    await page.screenshot({ path: screenshotPath, fullPage: true });
    return { charts, checks, headline, consoleErrors, pageErrors, requests };
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * Places in the HTML that would make a browser load something: src/href/action/poster
 * attributes, CSS url(), @import, and script calls that fetch. Chart.js's licence comment
 * names its homepage in plain text; that is not a load, so comments are not scanned here
 * (the browser's request log is the real proof).
 */
export function externalReferences(html: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\b(?:src|href|action|poster|srcset|data)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?\/\/[^"'\s>]*/gi,
    /url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?\/\/[^)]*\)/gi,
    /@import\s+["']?(?:url\()?\s*["']?(?:[a-z][a-z0-9+.-]*:)?\/\//gi,
    /\b(?:fetch|import|importScripts|sendBeacon|EventSource|WebSocket)\s*\(\s*["'`][^"'`]*\/\//g,
    /\.open\(\s*["'`][A-Z]+["'`]\s*,\s*["'`](?:[a-z]+:)?\/\//g,
  ];
  for (const pattern of patterns) for (const match of html.matchAll(pattern)) found.push(match[0]);
  return found;
}
