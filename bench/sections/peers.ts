import { PostgresSession } from 'express-agent-router';
import { DATABASE_URL, sampleItem, seedSession, type BenchDatabase } from '../database.js';
import { compare, type Contender, type Settings } from '../measure.js';
import type { PeerStore } from '../peers/peer-store.js';
import type { Report } from '../report.js';

/** What the adapters in bench/peers/<name>/store.ts export. */
interface PeerModule {
  createLangChainStore?: (poolConfig: BenchDatabase['poolConfig'], indexed: boolean) => Promise<PeerStore>;
  createMastraStore?: (connectionString: string, schemaName: string) => Promise<PeerStore>;
}

/**
 * Loaded by a computed path: the peers have their own node_modules (installed by
 * `npm run bench:peers`) and their own tsconfig, so the library's type-check does not need them.
 */
function loadPeer(name: 'langchain' | 'mastra'): Promise<PeerModule> {
  return import(`../peers/${name}/store.js`) as Promise<PeerModule>;
}

/**
 * The same history reads and the same conversational turn through the PostgreSQL chat-history
 * stores people use today, on the same database. Peers are installed apart (bench/peers/*), so a
 * peer that cannot be installed or run here is reported as such, with the reason.
 */
export async function peerComparison(bench: BenchDatabase, settings: Settings, report: Report) {
  const peers: PeerStore[] = [];
  const attempts: [string, () => Promise<PeerStore>][] = [
    ['LangChain', async () => (await loadPeer('langchain')).createLangChainStore!(bench.poolConfig, false)],
    ['LangChain + index', async () => (await loadPeer('langchain')).createLangChainStore!(bench.poolConfig, true)],
    ['Mastra', async () => (await loadPeer('mastra')).createMastraStore!(DATABASE_URL, bench.schema)],
  ];
  for (const [name, open] of attempts) {
    try {
      peers.push(await open());
    } catch (error) {
      report.note('peers', name, `could not run here: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  if (peers.length === 0) return;

  try {
    const session = (sessionId: string) => new PostgresSession({ db: bench.db, sessionId });
    const library = (run: Contender['run']): Contender => ({ name: 'library', run });
    const sizes = [100, 10_000, 100_000];
    for (const size of sizes) {
      await seedSession(bench, `peer-read-${size}`, size);
      for (const peer of peers) await peer.seed(`peer-read-${size}`, size);
    }
    for (const size of sizes) {
      const result = await compare(
        [
          library(() => session(`peer-read-${size}`).getItems(50)),
          ...peers.map((peer) => ({ name: peer.name, run: () => peer.readLast50(`peer-read-${size}`) })),
        ],
        settings,
      );
      for (const peer of peers) {
        report.ratioRow('peers', `latest 50 of ${size.toLocaleString('en')} items`, result, 1, {
          baseline: peer.name,
          strict: true,
        });
      }
    }

    await seedSession(bench, 'peer-turn', 100);
    for (const peer of peers) await peer.seed('peer-turn', 100);
    const turn = await compare(
      [
        library(async (i) => {
          const s = session('peer-turn');
          await s.getItems(50);
          await s.addItems([sampleItem(i), sampleItem(i + 1)]);
        }),
        ...peers.map((peer) => ({ name: peer.name, run: (i: number) => peer.turn('peer-turn', i) })),
      ],
      settings,
    );
    for (const peer of peers) {
      report.ratioRow('peers', 'one turn (read latest 50, store 2)', turn, 1, { baseline: peer.name, strict: true });
    }
  } finally {
    for (const peer of peers) await peer.close().catch(() => {});
  }
}
