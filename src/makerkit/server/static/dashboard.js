// makerkit venue dashboard: market data, one account, admin. Plain JS, no dependencies.
//
// Market data comes from /ws/md: per symbol a `book` subscription (a snapshot, then
// deltas and trades numbered by the symbol's public sequence), plus `l1` and `trades`.
// Every message is applied to in-memory state as it arrives; the DOM and the canvases
// are drawn at most once per animation frame. A sequence gap re-subscribes the book
// (the venue answers with a fresh snapshot) and is counted. The account view uses
// /ws/private (its own sequence, checked the same way) plus REST snapshots. Under
// `makerkit demo` the strategies view polls /demo/strategies: every participant's
// numbers as the demo's live table has them (hidden on a venue without a demo).
"use strict";

(() => {
  // ------------------------------------------------------------------ constants

  const KEY_STORE = "makerkit.apiKey";
  const ADMIN_STORE = "makerkit.adminKey";
  const TAPE_ROWS = 30;
  const TRADES_KEPT = 200;
  const FILLS_SHOWN = 50;
  const ORDERS_SHOWN = 100;
  const CHART_SAMPLE_MS = 250;
  const CHART_WINDOW_MS = 120_000;
  const PNL_WINDOW_MS = 600_000;
  const POLL_MS = 1000;
  const BACKOFF_MIN_MS = 200;
  const BACKOFF_MAX_MS = 3000;
  const OPEN_STATUS = new Set(["new", "partially_filled"]);
  const LIMIT_FIELDS = [
    "max_order_qty", "max_notional", "max_position", "collar_ticks",
    "max_msgs_per_sec", "burst", "duplicate_window_ns", "daily_loss_limit",
  ];

  const $ = (id) => document.getElementById(id);
  const now = () => performance.now();

  // ------------------------------------------------------------------ decimals
  // Prices and sizes stay the strings the venue sends; sums and differences are
  // exact (BigInt scaled integers), never floats.

  function parseDec(text) {
    const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(text));
    if (m === null) return null;
    const frac = m[3] || "";
    const n = BigInt(m[2] + frac);
    return { n: m[1] ? -n : n, scale: frac.length };
  }

  function rescale(d, scale) {
    return d.n * 10n ** BigInt(scale - d.scale);
  }

  function fmtDec(n, scale, minScale = 0) {
    const neg = n < 0n;
    let digits = (neg ? -n : n).toString().padStart(scale + 1, "0");
    let whole = digits.slice(0, digits.length - scale);
    let frac = digits.slice(digits.length - scale);
    while (frac.length > minScale && frac.endsWith("0")) frac = frac.slice(0, -1);
    digits = frac ? `${whole}.${frac}` : whole;
    return neg && /[1-9]/.test(digits) ? `-${digits}` : digits;
  }

  function decSum(values, minScale = 0) {
    const ds = values.map(parseDec);
    if (ds.some((d) => d === null)) return "-";
    const scale = Math.max(0, ...ds.map((d) => d.scale));
    const total = ds.reduce((acc, d) => acc + rescale(d, scale), 0n);
    return fmtDec(total, scale, minScale);
  }

  function decDiff(a, b) {
    const x = parseDec(a);
    const y = parseDec(b);
    if (x === null || y === null) return "-";
    const scale = Math.max(x.scale, y.scale);
    return fmtDec(rescale(x, scale) - rescale(y, scale), scale, scale);
  }

  function decMid(a, b) {
    const x = parseDec(a);
    const y = parseDec(b);
    if (x === null || y === null) return "-";
    const scale = Math.max(x.scale, y.scale);
    return fmtDec((rescale(x, scale) + rescale(y, scale)) * 5n, scale + 1, scale);
  }

  const isZero = (size) => /^-?0*(\.0*)?$/.test(size);

  // ------------------------------------------------------------------ book state

  /** One side of an L2 book: levels by price, and the prices kept sorted best first. */
  class BookSide {
    constructor(descending) {
      this.descending = descending;
      this.prices = []; // numbers, best first
      this.levels = new Map(); // number -> [price string, size string]
    }

    clear() {
      this.prices = [];
      this.levels.clear();
    }

    index(key) {
      let lo = 0;
      let hi = this.prices.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const p = this.prices[mid];
        if (this.descending ? p > key : p < key) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    }

    set(price, size) {
      const key = Number(price);
      const had = this.levels.has(key);
      if (isZero(size)) {
        if (had) {
          this.levels.delete(key);
          this.prices.splice(this.index(key), 1);
        }
        return;
      }
      this.levels.set(key, [price, size]);
      if (!had) this.prices.splice(this.index(key), 0, key);
    }

    level(i) {
      return i < this.prices.length ? this.levels.get(this.prices[i]) : null;
    }
  }

  /** A time series in plain arrays, trimmed to a window. */
  class Series {
    constructor(windowMs) {
      this.windowMs = windowMs;
      this.t = [];
      this.values = [];
    }

    push(t, values) {
      this.t.push(t);
      this.values.push(values);
      let drop = 0;
      while (drop < this.t.length && this.t[drop] < t - this.windowMs) drop += 1;
      if (drop) {
        this.t.splice(0, drop);
        this.values.splice(0, drop);
      }
    }

    clear() {
      this.t = [];
      this.values = [];
    }
  }

  class Book {
    constructor(symbol) {
      this.symbol = symbol;
      this.bids = new BookSide(true);
      this.asks = new BookSide(false);
      this.seq = 0;
      this.synced = false;
      this.resyncing = false;
      this.trades = []; // newest last
      this.lastTrade = null;
      this.l1 = null;
      this.version = 0; // bumped on every change, compared by the renderer
      this.series = new Series(CHART_WINDOW_MS);
    }

    load(snapshot) {
      this.bids.clear();
      this.asks.clear();
      for (const [price, size] of snapshot.bids) this.bids.set(price, size);
      for (const [price, size] of snapshot.asks) this.asks.set(price, size);
      this.seq = snapshot.seq;
      this.synced = true;
      this.resyncing = false;
      this.version += 1;
    }

    trade(m) {
      this.lastTrade = m;
      this.trades.push(m);
      if (this.trades.length > TRADES_KEPT) this.trades.splice(0, this.trades.length - TRADES_KEPT);
      this.version += 1;
    }

    bestBid() {
      return this.bids.level(0);
    }

    bestAsk() {
      return this.asks.level(0);
    }
  }

  // ------------------------------------------------------------------ app state

  const md = {
    symbols: [],
    books: new Map(),
    selected: null,
    ws: null,
    state: "connecting", // connecting | live | disconnected
    attempt: 0,
    retryAt: 0,
    timer: null,
    gaps: 0,
    updates: 0,
    updatesSeen: 0,
    rate: 0,
    lastError: "",
  };

  const acct = {
    key: "",
    gen: 0, // bumped when the key changes: late answers of an older session are ignored
    ws: null,
    state: "off", // off | connecting | live | disconnected | refused
    attempt: 0,
    retryAt: 0,
    timer: null,
    poll: null,
    accountId: null,
    lastSeq: null,
    gaps: 0,
    buffer: null, // private messages held while a REST snapshot is loading
    loading: false,
    reload: false,
    orders: new Map(),
    fills: [],
    fillSeqs: new Set(),
    positions: [],
    risk: null,
    pnl: new Series(PNL_WINDOW_MS),
    pnlTotal: null,
    message: "",
    error: false,
    own: new Map(), // symbol -> Map("bid|price" -> [count, remaining strings])
    refreshTimer: null,
  };

  const admin = { key: "", venueKilled: null, refused: false };

  const view = {
    depth: 10,
    rows: [],
    tapeRows: [],
    drawn: { symbol: null, version: -1, depth: 0, own: -1 },
    dirty: { account: true, admin: true, stats: true, chart: true, pnl: true, tabs: true, demo: false },
    ownVersion: 0,
    rafPending: false,
    renders: 0,
    rendersSeen: 0,
    renderRate: 0,
    lastStatsAt: now(),
  };

  // ------------------------------------------------------------------ helpers

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }

    describe() {
      return this.status ? `${this.status} ${this.code}: ${this.message}` : this.message;
    }
  }

  /** Call the REST API; a refusal becomes an ApiError with the server's code and message. */
  async function api(method, path, key, body) {
    const headers = {};
    if (key) headers["X-API-Key"] = key;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (exc) {
      throw new ApiError(0, "NETWORK", "the venue is unreachable");
    }
    const text = await response.text().catch(() => "");
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (exc) {
      data = null;
    }
    if (!response.ok) {
      const code = data && data.code ? data.code : `HTTP_${response.status}`;
      const message = data && data.message ? data.message : text || response.statusText;
      throw new ApiError(response.status, code, message);
    }
    return data;
  }

  function wsUrl(path) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}${path}`;
  }

  function backoff(attempt) {
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
    return Math.round(base * (0.75 + Math.random() * 0.5));
  }

  function setText(el, text) {
    const value = text === null || text === undefined ? "-" : String(text);
    if (el.textContent !== value) el.textContent = value;
  }

  function setAttr(el, name, value) {
    const v = String(value);
    if (el.getAttribute(name) !== v) el.setAttribute(name, v);
  }

  function clockTime(tsNs) {
    const d = new Date(Number(tsNs) / 1e6);
    const pad = (n, w = 2) => String(n).padStart(w, "0");
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }

  function cell(row, text, className) {
    const td = row.insertCell();
    td.textContent = text === null || text === undefined ? "-" : String(text);
    if (className) td.className = className;
    return td;
  }

  /** Run an event handler; an unexpected failure is shown on the page, never thrown. */
  function guard(fn) {
    return (...args) => {
      try {
        const out = fn(...args);
        if (out && typeof out.catch === "function") out.catch(showFailure);
      } catch (exc) {
        showFailure(exc);
      }
    };
  }

  function showFailure(exc) {
    md.lastError = exc instanceof ApiError ? exc.describe() : String(exc && exc.message ? exc.message : exc);
    view.dirty.stats = true;
    scheduleRender();
  }

  // ------------------------------------------------------------------ market data feed

  function setSymbols(list) {
    const symbols = list.map((i) => i.symbol);
    for (const s of symbols) if (!md.books.has(s)) md.books.set(s, new Book(s));
    for (const s of [...md.books.keys()]) if (!symbols.includes(s)) md.books.delete(s);
    md.symbols = symbols;
    const wanted = decodeURIComponent(location.hash.slice(1));
    if (!md.selected || !md.books.has(md.selected)) {
      md.selected = md.books.has(wanted) ? wanted : symbols[0] || null;
    }
    view.dirty.tabs = true;
  }

  async function mdStart() {
    md.timer = null;
    try {
      setSymbols(await api("GET", "/instruments"));
    } catch (exc) {
      mdRetry();
      return;
    }
    mdConnect();
  }

  function mdConnect() {
    let ws;
    try {
      ws = new WebSocket(wsUrl("/ws/md"));
    } catch (exc) {
      mdRetry();
      return;
    }
    md.ws = ws;
    ws.onopen = guard(() => {
      if (md.ws !== ws) return;
      md.attempt = 0;
      md.state = "live";
      md.lastError = "";
      for (const book of md.books.values()) {
        book.synced = false;
        book.resyncing = true;
        for (const channel of ["book", "l1", "trades"]) {
          ws.send(JSON.stringify({ op: "subscribe", channel, symbol: book.symbol }));
        }
      }
      view.dirty.stats = true;
      scheduleRender();
    });
    ws.onmessage = (event) => {
      if (md.ws !== ws) return;
      onMdFrame(event.data);
    };
    ws.onerror = () => {}; // a close event follows; it schedules the reconnect
    ws.onclose = () => {
      if (md.ws !== ws) return;
      md.ws = null;
      for (const book of md.books.values()) book.synced = false;
      mdRetry();
    };
  }

  function mdRetry() {
    md.state = "disconnected";
    const delay = backoff(md.attempt);
    md.attempt += 1;
    md.retryAt = now() + delay;
    clearTimeout(md.timer);
    md.timer = setTimeout(guard(mdStart), delay);
    view.dirty.stats = true;
    scheduleRender();
  }

  function onMdFrame(raw) {
    let data;
    try {
      data = JSON.parse(raw);
    } catch (exc) {
      md.lastError = "unreadable market-data frame";
      return;
    }
    if (Array.isArray(data)) {
      for (const m of data) onMdMessage(m);
    } else {
      onMdMessage(data);
    }
    scheduleRender();
  }

  function onMdMessage(m) {
    if (m === null || typeof m !== "object") return;
    if (m.type === "error") {
      md.lastError = `${m.code}: ${m.message}`;
      view.dirty.stats = true;
      return;
    }
    const book = md.books.get(m.symbol);
    if (book === undefined) return;
    switch (m.type) {
      case "snapshot":
        book.load(m);
        md.updates += 1;
        break;
      case "delta":
      case "trade":
        if (!book.synced) return; // waiting for a snapshot: it will contain this
        if (m.seq <= book.seq) return; // already part of the snapshot
        if (m.seq !== book.seq + 1) {
          resync(book);
          return;
        }
        book.seq = m.seq;
        if (m.type === "delta") {
          (m.side === "bid" ? book.bids : book.asks).set(m.price, m.size);
          book.version += 1;
        } else {
          book.trade(m);
        }
        md.updates += 1;
        break;
      case "l1":
        if (book.l1 === null || m.seq >= book.l1.seq) book.l1 = m;
        book.version += 1;
        md.updates += 1;
        break;
      default:
        break;
    }
  }

  /** A sequence gap: count it, drop deltas until the fresh snapshot the resubscribe brings. */
  function resync(book) {
    md.gaps += 1;
    book.synced = false;
    book.resyncing = true;
    book.version += 1;
    view.dirty.stats = true;
    if (md.ws !== null && md.ws.readyState === WebSocket.OPEN) {
      md.ws.send(JSON.stringify({ op: "subscribe", channel: "book", symbol: book.symbol }));
    }
  }

  function sampleCharts() {
    const t = Date.now();
    for (const book of md.books.values()) {
      if (!book.synced) continue;
      const bid = book.bestBid();
      const ask = book.bestAsk();
      const mid = bid && ask ? (Number(bid[0]) + Number(ask[0])) / 2 : null;
      const last = book.lastTrade ? Number(book.lastTrade.price) : null;
      if (mid === null && last === null) continue;
      book.series.push(t, [mid, last]);
    }
    view.dirty.chart = true;
    scheduleRender();
  }

  // ------------------------------------------------------------------ account

  function acctSetKey(key) {
    acct.key = key;
    if (key) sessionStorage.setItem(KEY_STORE, key);
    else sessionStorage.removeItem(KEY_STORE);
    acctStop();
    acct.orders.clear();
    acct.fills = [];
    acct.fillSeqs.clear();
    acct.positions = [];
    acct.risk = null;
    acct.pnl.clear();
    acct.pnlTotal = null;
    acct.accountId = null;
    acct.gaps = 0;
    acct.attempt = 0;
    acct.error = false;
    acct.message = key ? "Connecting..." : "No API key: public market data only.";
    acct.state = key ? "connecting" : "off";
    ownChanged();
    acctDirty();
    if (key) acctConnect(acct.gen);
  }

  function acctStop() {
    acct.gen += 1;
    clearTimeout(acct.timer);
    clearInterval(acct.poll);
    clearTimeout(acct.refreshTimer);
    acct.timer = null;
    acct.poll = null;
    acct.refreshTimer = null;
    const ws = acct.ws;
    acct.ws = null;
    if (ws !== null) ws.close(1000);
    acct.buffer = null;
    acct.loading = false;
    acct.reload = false;
    acct.lastSeq = null;
  }

  function acctDirty() {
    view.dirty.account = true;
    scheduleRender();
  }

  /** Check the key over REST (a refusal is shown, not retried), then open the private stream. */
  async function acctConnect(gen) {
    acct.timer = null;
    let risk;
    try {
      risk = await api("GET", "/risk", acct.key);
    } catch (exc) {
      if (gen !== acct.gen) return;
      if (exc instanceof ApiError && (exc.status === 401 || exc.status === 403)) {
        acct.state = "refused";
        acct.error = true;
        acct.message = `Refused by the venue: ${exc.describe()}`;
        acctDirty();
        return;
      }
      acctRetry(gen);
      return;
    }
    if (gen !== acct.gen) return;
    acct.accountId = risk.account_id;
    applyRisk(risk);
    const ws = new WebSocket(wsUrl(`/ws/private?api_key=${encodeURIComponent(acct.key)}`));
    acct.ws = ws;
    ws.onopen = guard(async () => {
      if (acct.ws !== ws) return;
      acct.attempt = 0;
      acct.state = "live";
      acct.error = false;
      acct.message = `Connected as account ${acct.accountId}.`;
      acct.lastSeq = null;
      if (acct.poll === null) {
        acct.poll = setInterval(guard(() => (acct.state === "live" ? pollAccount(gen) : null)), POLL_MS);
      }
      acctDirty();
      await acctSnapshot(gen);
    });
    ws.onmessage = (event) => {
      if (acct.ws !== ws) return;
      onPrivateFrame(event.data);
    };
    ws.onerror = () => {};
    ws.onclose = () => {
      if (acct.ws !== ws) return;
      acct.ws = null;
      acctRetry(gen);
    };
  }

  function acctRetry(gen) {
    if (gen !== acct.gen) return;
    acct.state = "disconnected";
    acct.error = true;
    const delay = backoff(acct.attempt);
    acct.attempt += 1;
    acct.retryAt = now() + delay;
    acct.message = "Private stream disconnected: reconnecting.";
    clearTimeout(acct.timer);
    acct.timer = setTimeout(guard(() => acctConnect(gen)), delay);
    acctDirty();
  }

  /**
   * Load orders, fills, positions and risk over REST. Private messages that arrive
   * meanwhile are held and applied afterwards: every update is a whole order state
   * and fills are deduplicated by sequence, so the result is the venue's state.
   */
  async function acctSnapshot(gen) {
    if (acct.buffer === null) acct.buffer = [];
    if (acct.loading) {
      acct.reload = true; // the one under way may predate what triggered this: load again
      return;
    }
    acct.loading = true;
    do {
      acct.reload = false;
      try {
        const [orders, fills, positions, risk] = await Promise.all([
          api("GET", "/orders", acct.key),
          api("GET", "/fills", acct.key),
          api("GET", "/positions", acct.key),
          api("GET", "/risk", acct.key),
        ]);
        if (gen !== acct.gen) return;
        acct.orders.clear();
        for (const o of orders) acct.orders.set(o.order_id, o);
        acct.fills = [];
        acct.fillSeqs.clear();
        for (const f of fills.slice(-TRADES_KEPT)) addFill(f);
        applyPositions(positions);
        applyRisk(risk);
      } catch (exc) {
        if (gen !== acct.gen) return;
        acct.message = exc instanceof ApiError ? `Account snapshot failed: ${exc.describe()}` : String(exc);
        acct.error = true;
      }
    } while (acct.reload);
    acct.loading = false;
    const held = acct.buffer || [];
    acct.buffer = null;
    for (const m of held) applyPrivate(m);
    ownChanged();
    acctDirty();
  }

  function onPrivateFrame(raw) {
    let data;
    try {
      data = JSON.parse(raw);
    } catch (exc) {
      return;
    }
    for (const m of Array.isArray(data) ? data : [data]) onPrivateMessage(m);
    acctDirty();
  }

  function onPrivateMessage(m) {
    if (m === null || typeof m !== "object") return;
    if (m.type === "error") {
      acct.message = `${m.code}: ${m.message}`;
      acct.error = true;
      return;
    }
    if (m.type !== "order" && m.type !== "fill") return;
    if (acct.lastSeq !== null) {
      if (m.seq <= acct.lastSeq) return; // seen already
      if (m.seq !== acct.lastSeq + 1) {
        acct.gaps += 1;
        acct.lastSeq = m.seq;
        acct.buffer = acct.buffer || [];
        acct.buffer.push(m);
        acctSnapshot(acct.gen).catch(showFailure);
        return;
      }
    }
    acct.lastSeq = m.seq;
    if (acct.buffer !== null) acct.buffer.push(m);
    else applyPrivate(m);
  }

  function applyPrivate(m) {
    if (m.type === "order") {
      if (OPEN_STATUS.has(m.status)) acct.orders.set(m.order_id, m);
      else acct.orders.delete(m.order_id);
      ownChanged();
    } else if (m.type === "fill") {
      addFill(m);
      // positions move with fills: ask for them soon (one request per burst)
      if (acct.refreshTimer === null) {
        const gen = acct.gen;
        acct.refreshTimer = setTimeout(guard(() => {
          acct.refreshTimer = null;
          return pollAccount(gen);
        }), 150);
      }
    }
  }

  function addFill(f) {
    if (acct.fillSeqs.has(f.seq)) return;
    acct.fillSeqs.add(f.seq);
    acct.fills.push(f);
    if (acct.fills.length > TRADES_KEPT) {
      for (const old of acct.fills.splice(0, acct.fills.length - TRADES_KEPT)) acct.fillSeqs.delete(old.seq);
    }
  }

  async function pollAccount(gen) {
    if (gen !== acct.gen || !acct.key) return;
    let positions;
    let risk;
    try {
      [positions, risk] = await Promise.all([
        api("GET", "/positions", acct.key),
        api("GET", "/risk", acct.key),
      ]);
    } catch (exc) {
      if (gen !== acct.gen) return;
      if (exc instanceof ApiError && (exc.status === 401 || exc.status === 403)) {
        acct.message = `Refused by the venue: ${exc.describe()}`;
        acct.error = true;
        acctDirty();
      }
      return; // unreachable: the stream's reconnect shows it
    }
    if (gen !== acct.gen) return;
    applyPositions(positions);
    applyRisk(risk);
    acctDirty();
  }

  function applyPositions(positions) {
    acct.positions = positions;
    const parts = [];
    for (const p of positions) {
      parts.push(p.realized_pnl, p.unrealized_pnl, `-${p.fees}`.replace(/^--/, ""));
    }
    acct.pnlTotal = positions.length ? decSum(parts) : "0";
    acct.pnl.push(Date.now(), [Number(acct.pnlTotal)]);
    view.dirty.pnl = true;
  }

  function applyRisk(risk) {
    acct.risk = risk;
    noteVenueKilled(risk.venue_killed);
  }

  function noteVenueKilled(killed) {
    if (admin.venueKilled !== killed) {
      admin.venueKilled = killed;
      view.dirty.admin = true;
      scheduleRender();
    }
  }

  function ownChanged() {
    const own = new Map();
    for (const o of acct.orders.values()) {
      if (o.price === null) continue;
      let bySymbol = own.get(o.symbol);
      if (bySymbol === undefined) own.set(o.symbol, (bySymbol = new Map()));
      const key = `${o.side === "buy" ? "bid" : "ask"}|${o.price}`;
      const entry = bySymbol.get(key) || [0, []];
      entry[0] += 1;
      entry[1].push(o.remaining);
      bySymbol.set(key, entry);
    }
    acct.own = own;
    view.ownVersion += 1;
    scheduleRender();
  }

  // ------------------------------------------------------------------ admin

  function adminResult(ok, text) {
    const el = $("admin-result");
    el.dataset.state = ok ? "ok" : "error";
    el.textContent = text;
  }

  /** One admin call; a refusal shows the server's code and message and changes nothing. */
  async function adminCall(label, method, path, body) {
    adminResult(true, `${label}...`);
    $("admin-result").dataset.state = "pending";
    try {
      const out = await api(method, path, admin.key, body);
      adminResult(true, `${label}: done${summarize(out)}`);
      await refreshVenueState();
      if (acct.key) await pollAccount(acct.gen);
      return out;
    } catch (exc) {
      const why = exc instanceof ApiError ? exc.describe() : String(exc);
      adminResult(false, `${label} refused: ${why}`);
      return null;
    }
  }

  function summarize(out) {
    if (out && Array.isArray(out.canceled)) return ` (${out.canceled.length} orders canceled)`;
    if (out && out.limits) {
      const set = Object.entries(out.limits).filter(([, v]) => v !== null);
      return set.length ? ` (${set.map(([k, v]) => `${k}=${v}`).join(", ")})` : " (all limits off)";
    }
    return "";
  }

  async function refreshVenueState() {
    if (!admin.key || admin.refused) return;
    try {
      const risk = await api("GET", "/risk", admin.key);
      noteVenueKilled(risk.venue_killed);
    } catch (exc) {
      // a refused key is not asked again until it changes; the state stays as last seen
      if (exc instanceof ApiError && exc.status) admin.refused = true;
    }
  }

  /** Take the admin key and check it against an admin-only route; a refusal is shown. */
  async function adminSetKey(key) {
    admin.key = key;
    admin.refused = false;
    if (key) sessionStorage.setItem(ADMIN_STORE, key);
    else sessionStorage.removeItem(ADMIN_STORE);
    if (!key) {
      adminResult(true, "admin key cleared");
      return;
    }
    try {
      await api("GET", "/admin/accounts", key);
      adminResult(true, "admin key accepted");
    } catch (exc) {
      adminResult(false, `admin key refused: ${exc instanceof ApiError ? exc.describe() : exc}`);
      return;
    }
    await refreshVenueState();
  }

  function readAccountId(input, required) {
    const text = input.value.trim();
    if (!text) {
      if (required) throw new Error("invalid `account id`, required, was empty");
      return null;
    }
    if (!/^\d+$/.test(text)) throw new Error(`invalid \`account id\`, must be an integer >= 0, was ${JSON.stringify(text)}`);
    return Number(text);
  }

  function killOrReset(kind, scope) {
    return guard(async () => {
      let accountId = null;
      try {
        accountId = scope === "account" ? readAccountId($("admin-account"), true) : null;
      } catch (exc) {
        adminResult(false, exc.message);
        return;
      }
      const body = { account_id: accountId };
      if (kind === "kill") body.reason = $("kill-reason").value.trim() || "manual";
      const what = scope === "account" ? `account ${accountId}` : "venue";
      await adminCall(`${kind} ${what}`, "POST", `/admin/${kind}`, body);
    });
  }

  async function applyLimits(event) {
    event.preventDefault();
    const form = $("limits-form");
    const body = {};
    try {
      body.account_id = readAccountId(form.elements.account_id, false);
      const symbol = form.elements.symbol.value.trim();
      body.symbol = symbol || null;
      for (const name of LIMIT_FIELDS) {
        const text = form.elements[name].value.trim();
        if (!text) {
          body[name] = null;
          continue;
        }
        const pattern = name === "max_msgs_per_sec" ? /^\d+(\.\d+)?$/ : /^\d+$/;
        if (!pattern.test(text)) {
          throw new Error(`invalid \`${name}\`, must be a number >= 0 or blank, was ${JSON.stringify(text)}`);
        }
        body[name] = Number(text);
      }
    } catch (exc) {
      adminResult(false, exc.message);
      return;
    }
    await adminCall("set limits", "PUT", "/admin/limits", body);
  }

  function loadLimits() {
    const form = $("limits-form");
    if (acct.risk === null) {
      adminResult(false, "connect an account (API key) to load its limits");
      return;
    }
    form.elements.account_id.value = String(acct.risk.account_id);
    for (const name of LIMIT_FIELDS) {
      const v = acct.risk.limits[name];
      form.elements[name].value = v === null || v === undefined ? "" : String(v);
    }
  }

  async function listAccounts() {
    try {
      const accounts = await api("GET", "/admin/accounts", admin.key);
      const body = $("accounts-body");
      body.replaceChildren();
      for (const a of accounts) {
        const row = body.insertRow();
        cell(row, a.account_id);
        cell(row, a.name);
        cell(row, a.role);
      }
      adminResult(true, `list accounts: ${accounts.length}`);
    } catch (exc) {
      adminResult(false, `list accounts refused: ${exc instanceof ApiError ? exc.describe() : exc}`);
    }
  }

  // ------------------------------------------------------------------ demo strategies

  const demo = { running: false, elapsed: null, rows: [] };

  async function pollDemo() {
    let data;
    try {
      data = await api("GET", "/demo/strategies");
    } catch (exc) {
      return; // the venue is unreachable: the banner says so, the last numbers stay
    }
    demo.running = Boolean(data && data.running);
    demo.elapsed = data && data.elapsed !== undefined ? data.elapsed : null;
    demo.rows = data && Array.isArray(data.strategies) ? data.strategies : [];
    view.dirty.demo = true;
    scheduleRender();
  }

  const DEMO_COLUMNS = ["strategy", "symbol", "position", "pnl", "fills", "orders", "spread", "status"];

  function renderDemo() {
    const panel = $("strategies-panel");
    panel.hidden = demo.rows.length === 0;
    if (panel.hidden) return;
    setText($("demo-elapsed"), demo.elapsed === null ? "-" : Math.round(demo.elapsed));
    const body = $("strategies-body");
    while (body.rows.length > demo.rows.length) body.deleteRow(-1);
    demo.rows.forEach((r, i) => {
      const row = body.rows[i] || body.insertRow();
      if (!row.cells.length) {
        row.dataset.testid = "strategy-row";
        for (const col of DEMO_COLUMNS) row.insertCell().dataset.col = col;
        row.cells[row.cells.length - 1].className = "status";
      }
      setAttr(row, "data-strategy", r.strategy);
      setAttr(row, "data-status", r.status);
      DEMO_COLUMNS.forEach((col, j) => setText(row.cells[j], r[col]));
      const pnl = row.cells[DEMO_COLUMNS.indexOf("pnl")];
      pnl.className = r.pnl_value > 0 ? "gain" : r.pnl_value < 0 ? "loss" : "";
    });
  }

  // ------------------------------------------------------------------ rendering

  function scheduleRender() {
    if (view.rafPending) return;
    view.rafPending = true;
    requestAnimationFrame(frame);
  }

  function frame() {
    view.rafPending = false;
    render();
  }

  function render() {
    view.renders += 1;
    if (view.dirty.tabs) renderTabs();
    const book = md.selected ? md.books.get(md.selected) : undefined;
    const d = view.drawn;
    if (book && (d.symbol !== book.symbol || d.version !== book.version || d.depth !== view.depth || d.own !== view.ownVersion)) {
      renderBook(book);
      d.symbol = book.symbol;
      d.version = book.version;
      d.depth = view.depth;
      d.own = view.ownVersion;
    }
    if (view.dirty.chart && book) {
      view.dirty.chart = false;
      renderPriceChart(book);
    }
    if (view.dirty.stats) {
      view.dirty.stats = false;
      renderStats();
    }
    if (view.dirty.account) {
      view.dirty.account = false;
      renderAccount();
    }
    if (view.dirty.pnl) {
      view.dirty.pnl = false;
      renderPnl();
    }
    if (view.dirty.admin) {
      view.dirty.admin = false;
      renderAdmin();
    }
    if (view.dirty.demo) {
      view.dirty.demo = false;
      renderDemo();
    }
  }

  function renderTabs() {
    view.dirty.tabs = false;
    const nav = $("tabs");
    nav.replaceChildren();
    for (const symbol of md.symbols) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = symbol;
      button.dataset.testid = `symbol-tab-${symbol}`;
      button.dataset.symbol = symbol;
      button.setAttribute("role", "tab");
      button.setAttribute("aria-selected", String(symbol === md.selected));
      button.addEventListener("click", guard(() => selectSymbol(symbol)));
      nav.append(button);
    }
  }

  function selectSymbol(symbol) {
    if (!md.books.has(symbol)) return;
    md.selected = symbol;
    history.replaceState(null, "", `#${encodeURIComponent(symbol)}`);
    view.dirty.tabs = true;
    view.dirty.chart = true;
    view.drawn.symbol = null;
    scheduleRender();
  }

  function buildLadder() {
    const body = $("ladder-body");
    body.replaceChildren();
    view.rows = [];
    for (let i = 0; i < 2 * view.depth; i += 1) {
      const tr = body.insertRow();
      const side = i < view.depth ? "ask" : "bid";
      tr.className = side;
      tr.dataset.testid = "ladder-row";
      tr.dataset.side = side;
      const cells = ["own", "size", "price", "size", "own"].map((cls) => cell(tr, "", cls));
      cells[0].dataset.testid = "own-bid";
      cells[4].dataset.testid = "own-ask";
      view.rows.push({ tr, cells, key: "" });
    }
  }

  function renderBook(book) {
    if (view.rows.length !== 2 * view.depth) buildLadder();
    const n = view.depth;
    const own = acct.own.get(book.symbol);
    let maxSize = 0;
    for (let i = 0; i < n; i += 1) {
      const a = book.asks.level(i);
      const b = book.bids.level(i);
      if (a) maxSize = Math.max(maxSize, Number(a[1]));
      if (b) maxSize = Math.max(maxSize, Number(b[1]));
    }
    for (let i = 0; i < 2 * n; i += 1) {
      const isAsk = i < n;
      const level = isAsk ? book.asks.level(n - 1 - i) : book.bids.level(i - n);
      const row = view.rows[i];
      const side = isAsk ? "ask" : "bid";
      const price = level ? level[0] : "";
      const size = level ? level[1] : "";
      const mine = level && own ? own.get(`${side}|${price}`) : undefined;
      const mineText = mine ? (mine[0] > 1 ? `${decSum(mine[1])} (${mine[0]})` : mine[1][0]) : "";
      const best = isAsk ? i === n - 1 : i === n;
      const width = level && maxSize > 0 ? `${Math.round((100 * Number(size)) / maxSize)}%` : "0%";
      const key = `${price}|${size}|${mineText}|${best}|${width}`;
      if (row.key === key) continue;
      row.key = key;
      row.tr.className = `${side}${best ? " best" : ""}${mine ? " mine" : ""}`;
      row.tr.dataset.price = price;
      row.tr.dataset.size = size;
      row.tr.dataset.own = mine ? mine[1].length : "0";
      row.cells[0].textContent = isAsk ? "" : mineText;
      row.cells[1].textContent = isAsk ? "" : size;
      row.cells[2].textContent = price;
      row.cells[3].textContent = isAsk ? size : "";
      row.cells[4].textContent = isAsk ? mineText : "";
      row.cells[isAsk ? 3 : 1].style.setProperty("--w", width);
      row.cells[isAsk ? 1 : 3].style.removeProperty("--w");
    }
    const bid = book.bestBid();
    const ask = book.bestAsk();
    setText($("symbol"), book.symbol);
    setText($("book-seq"), book.seq);
    const sync = $("sync-state");
    const state = book.synced ? "live" : md.state === "live" ? "resyncing" : "offline";
    setText(sync, state);
    sync.className = `sync ${state}`;
    setText($("best-bid"), bid ? bid[0] : "-");
    setText($("best-bid-size"), bid ? bid[1] : "-");
    setText($("best-ask"), ask ? ask[0] : "-");
    setText($("best-ask-size"), ask ? ask[1] : "-");
    setText($("mid"), bid && ask ? decMid(bid[0], ask[0]) : "-");
    setText($("spread"), bid && ask ? decDiff(ask[0], bid[0]) : "-");
    const l1 = book.l1;
    setText(
      $("l1"),
      l1 ? `${l1.bid ?? "-"} x ${l1.bid_size} / ${l1.ask ?? "-"} x ${l1.ask_size} @ ${l1.seq}` : "-",
    );
    renderTape(book);
  }

  function renderTape(book) {
    const body = $("tape-body");
    if (view.tapeRows.length !== TAPE_ROWS) {
      body.replaceChildren();
      view.tapeRows = [];
      for (let i = 0; i < TAPE_ROWS; i += 1) {
        const tr = body.insertRow();
        tr.dataset.testid = "trade-row";
        tr.hidden = true;
        view.tapeRows.push({ tr, cells: [0, 1, 2, 3].map(() => cell(tr, "")), seq: -1 });
      }
    }
    const last = book.lastTrade;
    setText($("last-trade"), last ? last.price : "-");
    setText($("last-trade-qty"), last ? last.qty : "-");
    for (let i = 0; i < TAPE_ROWS; i += 1) {
      const t = book.trades[book.trades.length - 1 - i];
      const row = view.tapeRows[i];
      const seq = t ? `${book.symbol}:${t.seq}` : "";
      if (row.seq === seq) continue;
      row.seq = seq;
      row.tr.hidden = !t;
      if (!t) continue;
      row.cells[0].textContent = clockTime(t.ts);
      row.cells[1].textContent = t.aggressor;
      row.cells[1].className = t.aggressor;
      row.cells[2].textContent = t.price;
      row.cells[3].textContent = t.qty;
    }
  }

  function renderStats() {
    setText($("update-rate"), md.rate);
    setText($("render-rate"), view.renderRate);
    setText($("update-total"), md.updates);
    setText($("gap-count"), md.gaps);
    setText($("md-state"), md.state);
    const error = $("last-error");
    if (error.textContent !== md.lastError) error.textContent = md.lastError;
    const banner = $("banner");
    const privateDown = acct.state === "disconnected";
    const down = md.state === "disconnected" || privateDown;
    if (down) {
      const retryAt = md.state === "disconnected" ? md.retryAt : acct.retryAt;
      const attempt = md.state === "disconnected" ? md.attempt : acct.attempt;
      const wait = Math.max(0, (retryAt - now()) / 1000).toFixed(1);
      const what = md.state === "disconnected" ? "" : " (private stream)";
      setText(banner, `disconnected${what} \u2014 reconnecting (attempt ${attempt}, next in ${wait} s)`);
    }
    if (banner.hidden === down) banner.hidden = !down;
  }

  function renderAccount() {
    const status = $("account-status");
    setText(status, acct.message);
    status.classList.toggle("error", acct.error);
    setText($("account-id"), acct.accountId);
    setText($("private-seq"), acct.lastSeq);
    setText($("private-gap-count"), acct.gaps);

    const risk = acct.risk;
    const riskEl = $("risk-state");
    if (risk === null) {
      setText(riskEl, "-");
      setAttr(riskEl, "data-killed", "");
      setAttr(riskEl, "data-venue-killed", "");
    } else {
      const parts = [];
      if (risk.killed) parts.push(`KILLED (${risk.kill_reason || "no reason"})`);
      if (risk.venue_killed) parts.push("VENUE KILLED");
      setText(riskEl, parts.length ? parts.join(", ") : "active");
      setAttr(riskEl, "data-killed", risk.killed);
      setAttr(riskEl, "data-venue-killed", risk.venue_killed);
    }
    const limits = $("limits-body");
    limits.replaceChildren();
    if (risk !== null) {
      for (const [name, value] of Object.entries(risk.limits)) {
        const row = limits.insertRow();
        row.dataset.limit = name;
        cell(row, name);
        cell(row, value === null ? "off" : value);
      }
    }

    const positions = $("positions-body");
    positions.replaceChildren();
    for (const p of acct.positions) {
      const row = positions.insertRow();
      row.dataset.testid = "position-row";
      row.dataset.symbol = p.symbol;
      cell(row, p.symbol);
      cell(row, p.qty).dataset.testid = "position-qty";
      cell(row, p.avg_price);
      cell(row, p.mark);
      cell(row, p.realized_pnl);
      cell(row, p.unrealized_pnl);
      cell(row, p.fees);
      cell(row, decSum([p.realized_pnl, p.unrealized_pnl, `-${p.fees}`.replace(/^--/, "")]));
    }
    setText($("pnl-total"), acct.pnlTotal);

    const orders = [...acct.orders.values()].sort((a, b) => b.order_id - a.order_id);
    setText($("orders-count"), orders.length);
    const ordersBody = $("orders-body");
    ordersBody.replaceChildren();
    for (const o of orders.slice(0, ORDERS_SHOWN)) {
      const row = ordersBody.insertRow();
      row.dataset.testid = "order-row";
      row.dataset.orderId = o.order_id;
      cell(row, o.order_id);
      cell(row, o.symbol);
      cell(row, o.side, o.side);
      cell(row, o.price);
      cell(row, o.qty);
      cell(row, o.filled);
      cell(row, o.remaining);
      cell(row, o.status);
    }

    const fillsBody = $("fills-body");
    fillsBody.replaceChildren();
    for (const f of acct.fills.slice(-FILLS_SHOWN).reverse()) {
      const row = fillsBody.insertRow();
      row.dataset.testid = "fill-row";
      cell(row, clockTime(f.ts));
      cell(row, f.symbol);
      cell(row, f.side, f.side);
      cell(row, f.price);
      cell(row, f.qty);
      cell(row, f.liquidity);
      cell(row, f.fee);
    }
    const input = $("admin-account");
    if (acct.accountId !== null && !input.value) input.placeholder = `account id (you: ${acct.accountId})`;
  }

  function renderAdmin() {
    const el = $("venue-state");
    const killed = admin.venueKilled;
    setText(el, killed === null ? "unknown" : killed ? "KILLED" : "running");
    el.classList.toggle("killed", killed === true);
    setAttr(el, "data-killed", killed === null ? "" : killed);
  }

  // ------------------------------------------------------------------ charts

  function prepareCanvas(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(1, canvas.clientWidth);
    const h = Math.max(1, canvas.clientHeight);
    const pw = Math.round(w * ratio);
    const ph = Math.round(h * ratio);
    if (canvas.width !== pw || canvas.height !== ph) {
      canvas.width = pw;
      canvas.height = ph;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, w, h);
    return { ctx, w, h };
  }

  function niceStep(span, count) {
    const raw = span / count;
    const mag = 10 ** Math.floor(Math.log10(raw));
    const norm = raw / mag;
    return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  }

  /**
   * Draw lines over time. `lines` are {index, color, dots}; values[i][index] of the
   * series, null for no value. `zero` draws the zero line.
   */
  function drawSeries(canvas, series, lines, windowMs, opts) {
    const { ctx, w, h } = prepareCanvas(canvas);
    const pad = { l: 64, r: 10, t: 10, b: 22 };
    const t1 = Date.now();
    // the axis spans the data (at least 10 s), up to the whole window
    const first = series.t.length ? series.t[0] : t1;
    const spanMs = Math.min(windowMs, Math.max(10_000, t1 - first));
    const t0 = t1 - spanMs;
    let lo = Infinity;
    let hi = -Infinity;
    let points = 0;
    for (let i = 0; i < series.t.length; i += 1) {
      if (series.t[i] < t0) continue;
      for (const line of lines) {
        const v = series.values[i][line.index];
        if (v === null || !Number.isFinite(v)) continue;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
        points += 1;
      }
    }
    if (opts.zero && points) {
      lo = Math.min(lo, 0);
      hi = Math.max(hi, 0);
    }
    canvas.dataset.points = String(points);
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#7d8a99";
    if (!points) {
      ctx.fillText(opts.empty, pad.l, h / 2);
      return;
    }
    if (hi - lo < 1e-9) {
      const c = hi;
      lo = c - Math.max(Math.abs(c) * 1e-4, opts.minSpan);
      hi = c + Math.max(Math.abs(c) * 1e-4, opts.minSpan);
    }
    const span = hi - lo;
    lo -= span * 0.05;
    hi += span * 0.05;
    const x = (t) => pad.l + ((t - t0) / spanMs) * (w - pad.l - pad.r);
    const y = (v) => pad.t + (1 - (v - lo) / (hi - lo)) * (h - pad.t - pad.b);

    // grid and labels
    ctx.strokeStyle = "#1e2833";
    ctx.lineWidth = 1;
    const step = niceStep(hi - lo, 4);
    const decimals = Math.max(0, Math.min(8, -Math.floor(Math.log10(step))));
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) {
      const yy = Math.round(y(v)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(pad.l, yy);
      ctx.lineTo(w - pad.r, yy);
      ctx.stroke();
      ctx.fillText(v.toFixed(decimals), pad.l - 6, yy);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const seconds = spanMs / 1000;
    const tickS = [1, 2, 5, 10, 15, 30, 60, 120, 300].find((v) => seconds / v <= 6) || 600;
    for (let s = 0; s <= seconds; s += tickS) {
      const xx = x(t1 - s * 1000);
      ctx.fillText(s === 0 ? "now" : `-${s}s`, xx, h - pad.b + 5);
    }
    if (opts.zero) {
      ctx.strokeStyle = "#3a4656";
      ctx.beginPath();
      ctx.moveTo(pad.l, Math.round(y(0)) + 0.5);
      ctx.lineTo(w - pad.r, Math.round(y(0)) + 0.5);
      ctx.stroke();
    }

    // lines
    for (const line of lines) {
      ctx.strokeStyle = line.color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      let open = false;
      for (let i = 0; i < series.t.length; i += 1) {
        if (series.t[i] < t0) continue;
        const v = series.values[i][line.index];
        if (v === null || !Number.isFinite(v)) {
          open = false;
          continue;
        }
        const px = x(series.t[i]);
        const py = y(v);
        if (open) ctx.lineTo(px, py);
        else ctx.moveTo(px, py);
        open = true;
      }
      ctx.stroke();
    }
  }

  function renderPriceChart(book) {
    const canvas = $("price-chart");
    drawSeries(
      canvas,
      book.series,
      [
        { index: 1, color: "#f2c14e" },
        { index: 0, color: "#5aa9e6" },
      ],
      CHART_WINDOW_MS,
      { empty: "waiting for market data", zero: false, minSpan: 0.01 },
    );
    const lastValues = book.series.values[book.series.values.length - 1];
    canvas.dataset.symbol = book.symbol;
    canvas.dataset.lastMid = lastValues && lastValues[0] !== null ? String(lastValues[0]) : "";
  }

  function renderPnl() {
    drawSeries($("pnl-chart"), acct.pnl, [{ index: 0, color: "#3fb37f" }], PNL_WINDOW_MS, {
      empty: acct.key ? "waiting for positions" : "connect an account to see its PnL",
      zero: true,
      minSpan: 1,
    });
  }

  // ------------------------------------------------------------------ counters

  function tickStats() {
    const t = now();
    const dt = Math.max(1e-3, (t - view.lastStatsAt) / 1000);
    view.lastStatsAt = t;
    md.rate = Math.round((md.updates - md.updatesSeen) / dt);
    md.updatesSeen = md.updates;
    view.renderRate = Math.round((view.renders - view.rendersSeen) / dt);
    view.rendersSeen = view.renders;
    view.dirty.stats = true;
    scheduleRender();
  }

  function tickBanner() {
    if (md.state === "disconnected" || acct.state === "disconnected") {
      view.dirty.stats = true;
      scheduleRender();
    }
  }

  // ------------------------------------------------------------------ start

  function start() {
    $("depth").addEventListener("change", guard((event) => {
      view.depth = Number(event.target.value) || 10;
      view.drawn.depth = -1;
      scheduleRender();
    }));
    $("key-form").addEventListener("submit", guard((event) => {
      event.preventDefault();
      acctSetKey($("api-key").value.trim());
    }));
    $("api-key-clear").addEventListener("click", guard(() => {
      $("api-key").value = "";
      acctSetKey("");
    }));
    $("admin-form").addEventListener("submit", guard((event) => {
      event.preventDefault();
      return adminSetKey($("admin-key").value.trim());
    }));
    $("kill-venue").addEventListener("click", killOrReset("kill", "venue"));
    $("reset-venue").addEventListener("click", killOrReset("reset", "venue"));
    $("kill-account").addEventListener("click", killOrReset("kill", "account"));
    $("reset-account").addEventListener("click", killOrReset("reset", "account"));
    $("limits-form").addEventListener("submit", guard(applyLimits));
    $("limits-load").addEventListener("click", guard(loadLimits));
    $("accounts-load").addEventListener("click", guard(listAccounts));
    window.addEventListener("resize", () => {
      view.dirty.chart = true;
      view.dirty.pnl = true;
      scheduleRender();
    });
    window.addEventListener("hashchange", guard(() => selectSymbol(decodeURIComponent(location.hash.slice(1)))));

    setInterval(tickStats, 1000);
    setInterval(tickBanner, 200);
    setInterval(sampleCharts, CHART_SAMPLE_MS);
    setInterval(guard(refreshVenueState), 2000);
    setInterval(guard(pollDemo), POLL_MS);

    admin.key = sessionStorage.getItem(ADMIN_STORE) || "";
    $("admin-key").value = admin.key;
    const key = sessionStorage.getItem(KEY_STORE) || "";
    $("api-key").value = key;
    buildLadder();
    acctSetKey(key);
    guard(mdStart)();
    guard(refreshVenueState)();
    guard(pollDemo)();
    scheduleRender();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
