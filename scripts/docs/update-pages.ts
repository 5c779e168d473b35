// `npm run docs:bench`, `npm run docs:reliability`: renders the figures of the named pages of
// docs/ from the results files the runs wrote (see pages.ts).
import { PAGES, updatePage, type PageName } from './pages.js';

for (const name of process.argv.slice(2)) {
  if (!(name in PAGES)) {
    console.error(`No page "${name}": pass one of ${Object.keys(PAGES).join(', ')}.`);
    process.exit(1);
  }
  const { page, source } = PAGES[name as PageName];
  console.log(updatePage(name as PageName) ? `${page}: figures rendered from ${source}` : `${page}: already matches ${source}`);
}
