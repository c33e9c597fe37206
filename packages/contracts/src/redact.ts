/**
 * A value quoted in an error line: user info and query values of anything URL-shaped are masked
 * (`redis://***@host/0?password=***`), so an operator's secret does not reach a log, while the part
 * that is wrong usually stays visible. Works on strings that do not parse, too.
 */
export function maskUrlSecrets(value: string): string {
  return value
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@')
    .replace(/([?&][^=&#]*=)[^&#]*/g, '$1***');
}
