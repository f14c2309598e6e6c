/**
 * The console on a phone: every page a user reaches from the navigation, opened at 390 px wide,
 * must not scroll sideways.
 */
import type { BrowserContext } from 'playwright-core';
import { horizontalOverflow, screenshot } from './browser.ts';

const ROUTES = [
  '/',
  '/databases/shop',
  '/databases/new',
  '/restore?database=shop',
  '/storages',
  '/storages/nas',
  '/notifiers',
  '/audit',
  '/users',
  '/workspaces',
  '/settings',
];

/** The routes wider than a 390 px viewport, each with how far it overflows; empty when none is. */
export async function widerThanAPhone(context: BrowserContext, at: (route: string) => string): Promise<string[]> {
  const phone = await context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  const wide: string[] = [];
  for (const route of ROUTES) {
    await phone.goto(at(route));
    const overflow = await horizontalOverflow(phone);
    if (overflow > 1) wide.push(`${route} (+${overflow}px)`);
  }
  await screenshot(phone, '10-phone-overview');
  await phone.close();
  return wide;
}
