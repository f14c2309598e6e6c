/**
 * Backup ids sort by time and stay readable: `20261123T103000Z-3f9a1c`. The random suffix keeps two
 * backups started in the same second apart.
 */
export function backupIdAt(time: Date, random: string): string {
  const stamp = time.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  return `${stamp}-${random.replace(/[^0-9a-f]/gi, '').slice(0, 6).toLowerCase()}`;
}

export const backupIdPattern = /^\d{8}T\d{6}Z-[0-9a-f]{6}$/;
