/**
 * Category inference (contract C7): a transparent weighted lexicon.
 *
 * Each category owns a list of terms (words or phrases of up to three words) with
 * weights 1..3. An issue's text is tokenised, lightly stemmed, and every distinct
 * term found adds `weight x field factor` to its category; the factor is the largest
 * of the fields the term appears in (component and signals 2, title 1.5, description 1).
 * At each position the longest term wins and consumes its words, so a phrase never
 * also counts its own words, for its category or another; in exchange a phrase weighs
 * 1.5x (two words) or 2x (three words) its listed weight.
 *
 *   confidence = top / (top + runner_up + EVIDENCE_PRIOR)
 *
 * The prior keeps thin evidence from looking certain: one strong title word gives
 * 4.5 / 6.5 = 0.69, two agreeing words 0.82, a tie between two categories <= 0.5.
 * See functions/core/README.md for why this beats an opaque model here.
 */
import type { Category, Issue } from './wire';

export const EVIDENCE_PRIOR = 2;
/** Each word past the first adds half the term's weight: `disk full` (3) counts 4.5. */
export const PHRASE_BONUS = 0.5;

const FIELD_FACTOR = { component: 2, signals: 2, title: 1.5, description: 1 } as const;
type Field = keyof typeof FIELD_FACTOR;

/** Terms per category. Written as plain words; stemmed once at load with the same stemmer as the input. */
const LEXICON: Record<Category, Record<string, number>> = {
  configuration: {
    config: 3,
    configuration: 3,
    misconfigured: 3,
    misconfiguration: 3,
    'feature flag': 3,
    'environment variable': 3,
    configmap: 3,
    'config drift': 3,
    setting: 2,
    settings: 2,
    toggle: 2,
    yaml: 2,
    drift: 2,
    typo: 2,
    'wrong value': 2,
    parameter: 1,
    flag: 1,
    property: 1,
  },
  deployment: {
    deploy: 3,
    deployment: 3,
    release: 3,
    rollout: 3,
    'rolled out': 3,
    'code change': 3,
    regression: 3,
    canary: 3,
    'blue green': 3,
    'bad release': 3,
    'new version': 2,
    commit: 2,
    build: 2,
    pipeline: 2,
    artifact: 2,
    hotfix: 2,
    version: 1,
    patch: 1,
    image: 1,
  },
  capacity: {
    capacity: 3,
    overload: 3,
    overloaded: 3,
    exhausted: 3,
    exhaustion: 3,
    throttled: 3,
    throttling: 3,
    'rate limit': 3,
    'rate limited': 3,
    saturated: 3,
    saturation: 3,
    surge: 3,
    'traffic surge': 3,
    oom: 3,
    oomkilled: 3,
    'memory leak': 3,
    'out of memory': 3,
    'connection pool': 3,
    'thread pool': 3,
    'queue depth': 3,
    autoscaling: 3,
    '429': 3,
    'too many requests': 3,
    'high load': 3,
    spike: 2,
    load: 2,
    cpu: 2,
    quota: 2,
    backlog: 2,
    scale: 2,
    concurrency: 2,
    memory: 1,
    pool: 1,
    limit: 1,
    latency: 1,
  },
  network: {
    network: 3,
    dns: 3,
    'connection refused': 3,
    'connection reset': 3,
    'packet loss': 3,
    packet: 3,
    bgp: 3,
    vpc: 3,
    subnet: 3,
    'load balancer': 3,
    tcp: 3,
    unreachable: 3,
    'network partition': 3,
    nat: 3,
    bandwidth: 3,
    route: 2,
    routing: 2,
    firewall: 2,
    cdn: 2,
    proxy: 2,
    jitter: 2,
    '502': 2,
    ip: 2,
    timeout: 1,
    latency: 1,
    gateway: 1,
    tls: 1,
  },
  infrastructure: {
    hardware: 3,
    'hardware failure': 3,
    vm: 3,
    'virtual machine': 3,
    disk: 3,
    'disk full': 3,
    power: 3,
    kernel: 3,
    datacenter: 3,
    rack: 3,
    ec2: 3,
    hypervisor: 3,
    filesystem: 3,
    inode: 3,
    'availability zone': 3,
    host: 2,
    instance: 2,
    node: 2,
    storage: 2,
    volume: 2,
    server: 2,
    reboot: 2,
    cluster: 1,
    container: 1,
    pod: 1,
  },
  dependency: {
    dependency: 3,
    'third party': 3,
    upstream: 3,
    vendor: 3,
    'external api': 3,
    'external service': 3,
    incompatible: 3,
    incompatibility: 3,
    'version mismatch': 3,
    'payment provider': 3,
    provider: 2,
    library: 2,
    package: 2,
    sdk: 2,
    downstream: 2,
    integration: 2,
    webhook: 2,
    outage: 1,
  },
  data: {
    corrupt: 3,
    corrupted: 3,
    corruption: 3,
    replication: 3,
    replicate: 3,
    replicated: 3,
    'replica lag': 3,
    consistency: 3,
    inconsistent: 3,
    inconsistency: 3,
    'data loss': 3,
    integrity: 3,
    checksum: 3,
    'split brain': 3,
    data: 2,
    replica: 2,
    database: 2,
    db: 2,
    backup: 2,
    restore: 2,
    schema: 2,
    migration: 2,
    duplicate: 2,
    stale: 2,
    index: 1,
    table: 1,
  },
  security: {
    security: 3,
    vulnerability: 3,
    cve: 3,
    breach: 3,
    unauthorized: 3,
    credential: 3,
    credentials: 3,
    certificate: 3,
    'certificate expired': 3,
    attack: 3,
    ddos: 3,
    intrusion: 3,
    malware: 3,
    exploit: 3,
    compromised: 3,
    phishing: 3,
    injection: 3,
    'brute force': 3,
    secret: 2,
    leak: 2,
    leaked: 2,
    permission: 2,
    iam: 2,
    'access denied': 2,
    encryption: 2,
    expired: 1,
    auth: 1,
    token: 1,
  },
  coordination: {
    registration: 3,
    register: 3,
    discovery: 3,
    'service discovery': 3,
    heartbeat: 3,
    'inter agent': 3,
    deadlock: 3,
    contention: 3,
    'resource contention': 3,
    'workflow dependency': 3,
    coordination: 3,
    'message broker': 3,
    'leader election': 3,
    agent: 2,
    communication: 2,
    lock: 2,
    orchestrator: 2,
    quorum: 2,
    consensus: 2,
  },
  recovery_process: {
    progress: 3,
    'progress tracking': 3,
    'status report': 3,
    'status reporting': 3,
    rollback: 3,
    'roll back': 3,
    timeline: 3,
    checkpoint: 3,
    'stuck workflow': 3,
    recovery: 2,
    tracking: 2,
    eta: 2,
    runbook: 2,
    stuck: 1,
    status: 1,
    dashboard: 1,
  },
};

/**
 * A deliberately small suffix stripper: it only has to map the lexicon's words and
 * the input's words onto the same key, and both go through it.
 */
export function stem(word: string): string {
  let w = word;
  if (w.length > 7 && w.endsWith('ations')) w = w.slice(0, -6);
  else if (w.length > 6 && w.endsWith('ation')) w = w.slice(0, -5);
  else if (w.length > 6 && w.endsWith('ions')) w = w.slice(0, -4);
  else if (w.length > 5 && w.endsWith('ion')) w = w.slice(0, -3);
  else if (w.length > 8 && w.endsWith('ments')) w = w.slice(0, -5);
  else if (w.length > 7 && w.endsWith('ment')) w = w.slice(0, -4);
  else if (w.length > 5 && w.endsWith('ing')) w = w.slice(0, -3);
  else if (w.length > 4 && w.endsWith('ies')) w = `${w.slice(0, -3)}y`;
  else if (w.length > 4 && w.endsWith('ed')) w = w.slice(0, -2);
  else if (w.length > 3 && w.endsWith('s') && !w.endsWith('ss')) w = w.slice(0, -1);
  if (w.length > 4 && w.endsWith('e')) w = w.slice(0, -1);
  return w;
}

const TOKEN = /[a-z0-9]+/g;
const MAX_TERM_WORDS = 3;

export function tokenize(text: string): string[] {
  return (text.toLowerCase().match(TOKEN) ?? []).map(stem);
}

interface Term {
  readonly category: Category;
  readonly weight: number;
  readonly label: string;
}

/** Stemmed term key ("word" or "word word") -> the categories it counts for. */
const TERMS: ReadonlyMap<string, readonly Term[]> = /* @__PURE__ */ (() => {
  const map = new Map<string, Term[]>();
  for (const [category, terms] of Object.entries(LEXICON) as [Category, Record<string, number>][]) {
    for (const [label, weight] of Object.entries(terms)) {
      const words = tokenize(label);
      const key = words.join(' ');
      const list = map.get(key) ?? [];
      // A phrase is more specific than any of its words, and it consumes them when it matches.
      const phraseWeight = weight * (1 + PHRASE_BONUS * (words.length - 1));
      if (!list.some((t) => t.category === category)) list.push({ category, weight: phraseWeight, label });
      map.set(key, list);
    }
  }
  return map;
})();

/** Every proper prefix of a multi-word term ("out", "out of"): lets the scan stop early. */
const PHRASE_STARTS: ReadonlySet<string> = /* @__PURE__ */ (() =>
  new Set(
    [...TERMS.keys()].flatMap((key) => {
      const words = key.split(' ');
      return words.slice(1).map((_, k) => words.slice(0, k + 1).join(' '));
    }),
  ))();

export interface Classification {
  /** Null when no term matched at all. */
  readonly category: Category | null;
  readonly confidence: number;
  /** The evidence, e.g. `title "throttled" +4.5; signal "cpu" +4; runner-up network 1.5`. */
  readonly reason: string;
  readonly scores: Readonly<Partial<Record<Category, number>>>;
}

/**
 * Infers an issue's category from its title, description, component and signals.
 * @example
 * classifyIssue({ issue_id: 'i1', title: 'API throttled under traffic surge', severity: 'high' }).category // 'capacity'
 */
export function classifyIssue(
  issue: Pick<Issue, 'title' | 'description' | 'component' | 'signals'>,
): Classification {
  // term key -> best factor seen and the field it came from
  const found = new Map<string, { factor: number; field: Field }>();
  const scan = (field: Field, text: string | undefined) => {
    if (!text) return;
    const tokens = tokenize(text);
    const factor = FIELD_FACTOR[field];
    // Longest match wins at each position and consumes its words, so "load balancer"
    // counts for network without "load" also counting for capacity.
    for (let i = 0; i < tokens.length; ) {
      let match: string | undefined;
      let width = 1;
      let key = tokens[i] as string;
      for (let n = 1; n <= MAX_TERM_WORDS && i + n <= tokens.length; n++) {
        if (n > 1) key = `${key} ${tokens[i + n - 1]}`;
        if (TERMS.has(key)) {
          match = key;
          width = n;
        }
        if (!PHRASE_STARTS.has(key)) break;
      }
      i += width;
      if (!match) continue;
      const prev = found.get(match);
      if (!prev || prev.factor < factor) found.set(match, { factor, field });
    }
  };
  scan('title', issue.title);
  scan('description', issue.description);
  scan('component', issue.component);
  for (const signal of issue.signals ?? []) scan('signals', signal);

  const scores: Partial<Record<Category, number>> = {};
  const evidence: Partial<Record<Category, string[]>> = {};
  for (const [key, { factor, field }] of found) {
    for (const term of TERMS.get(key) ?? []) {
      const points = term.weight * factor;
      scores[term.category] = (scores[term.category] ?? 0) + points;
      const list = evidence[term.category];
      const line = `${field} "${term.label}" +${points}`;
      if (list) list.push(line);
      else evidence[term.category] = [line];
    }
  }

  // Ties go to the category listed first in C7, so the result never depends on input order.
  const ranked = (Object.keys(LEXICON) as Category[])
    .filter((c) => (scores[c] ?? 0) > 0)
    .sort((a, b) => (scores[b] as number) - (scores[a] as number));
  const [top, second] = ranked;
  if (!top)
    return {
      category: null,
      confidence: 0,
      reason: 'no known term in title, description, component or signals',
      scores,
    };
  const s1 = scores[top] as number;
  const s2 = second ? (scores[second] as number) : 0;
  const confidence = round3(s1 / (s1 + s2 + EVIDENCE_PRIOR));
  const runnerUp = second ? `; runner-up ${second} ${s2}` : '';
  return { category: top, confidence, reason: `${(evidence[top] ?? []).join('; ')}${runnerUp}`, scores };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
