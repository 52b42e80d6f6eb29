/** A problem that stops install (a captured table or column that does not exist, wal_level not logical). */
export class InstallError extends Error {
  override name = 'InstallError';
}
