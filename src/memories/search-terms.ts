/**
 * The words a search looks for, taken from free text (the model's query, or the user's newest
 * message): letters and digits only, lower-cased, each once, at most `MAX_TERMS` of them. Nothing
 * else of the text reaches SQL, so no character of it can be read as a `tsquery` operator.
 */
export const MAX_TERMS = 32;
const MAX_TERM_LENGTH = 64;

export function searchTerms(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const terms = new Set<string>();
  for (const word of words) {
    terms.add(word.slice(0, MAX_TERM_LENGTH));
    if (terms.size === MAX_TERMS) break;
  }
  return [...terms];
}

/** `to_tsquery` text matching any of the terms (PostgreSQL drops the English stop words). */
export function anyOfQuery(terms: readonly string[]): string {
  return terms.join(' | ');
}

/**
 * English words too common to tell memories apart. PostgreSQL's `english` configuration drops
 * its own list; pg-mem, which matches substrings with ILIKE, needs one, and words shorter than
 * three letters are dropped there too ("is" is inside "this").
 */
const STOP_WORDS = new Set(
  (
    'about after again all also and any are because been before being both but can could did does doing down ' +
    'during each few for from further had has have having her here hers herself him himself his how into its ' +
    'itself just more most myself nor not now off once only other our ours ourselves out over own same she ' +
    'should some such than that the their theirs them themselves then there these they this those through too ' +
    'under until very was were what when where which while who whom why will with would you your yours ' +
    'yourself yourselves'
  ).split(' '),
);

/** The terms worth an ILIKE on pg-mem. */
export function substringTerms(terms: readonly string[]): string[] {
  return terms.filter((term) => term.length >= 3 && !STOP_WORDS.has(term));
}
