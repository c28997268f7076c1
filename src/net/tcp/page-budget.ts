/**
 * Cuts range and event pages to a byte budget before they are sent: the node's page limits
 * count records, not bytes, and a thousand large values do not fit a frame. A cut range page
 * says `more` with the last key sent as `after`, and a short event page is just read on from
 * (the watch asks again from its cursor), so callers need no change. At least one record is
 * always kept, so a reader always progresses (one record fits a frame: entries are bounded).
 */
import type { KvEvent, KvRangePage } from '../../store/kv-state-machine.ts';
import { MAX_PAGE_BYTES } from './client-protocol.ts';

/** Wire bytes a record costs besides its key and value (numbers, array headers), rounded up. */
const RECORD_OVERHEAD_BYTES = 48;

export function trimPage(page: KvRangePage, budget: number = MAX_PAGE_BYTES): KvRangePage {
  const n = fitting(page.records, (r) => r.key.byteLength + r.record.value.byteLength, budget);
  if (n === page.records.length) return page;
  const records = page.records.slice(0, n);
  return { records, more: true, after: records[n - 1]!.key };
}

export function trimEvents(events: KvEvent[], budget: number = MAX_PAGE_BYTES): KvEvent[] {
  const n = fitting(events, (e) => e.key.byteLength + e.record.value.byteLength, budget);
  return n === events.length ? events : events.slice(0, n);
}

/** How many leading items fit the budget (at least one, if there are any). */
function fitting<T>(items: readonly T[], size: (item: T) => number, budget: number): number {
  let used = 0;
  for (let i = 0; i < items.length; i++) {
    used += size(items[i]!) + RECORD_OVERHEAD_BYTES;
    if (used > budget) return Math.max(1, i);
  }
  return items.length;
}
