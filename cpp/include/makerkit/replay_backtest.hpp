// Historical replay backtest core: an L2 book rebuilt from recorded events,
// our orders tracked by a queue-position model, latency on both paths.
//
// The recorded market does not see our orders (no market impact); they sit in
// a virtual queue at their price level. `ahead` is the volume in front of us:
// it starts at the level's displayed size when the order reaches the exchange
// and shrinks as trades at that price consume it and (depending on the model)
// as cancellations remove volume from the level:
//   * Conservative: only trades advance us; a cancel moves us forward only as
//     far as the level shrinks below our `ahead` (we cannot be behind more than
//     what is displayed).
//   * Probabilistic: a level decrease not explained by trades is split between
//     the volume ahead of and behind us with weights f(ahead), f(behind),
//     f(x) = x^power (power 1: in proportion to the volumes).
// An order fills when trades at its price exceed `ahead`, when a trade prints
// through its price, or when the opposite side of the book crosses it.
//
// Order-level (L3) data replaces the model with the real FIFO queue (model 2,
// "l3"): events add, cancel and execute named orders, and `ref` says when the
// order they touch joined its level (the index of its add event). Our order
// joins behind everything resting at its price when it arrives; only cancels
// and executions of orders that were there then move it up (so its position
// never increases); it fills when an execution reaches it: one of an order
// that queued behind it, a hidden execution at its price once nothing visible
// is ahead of it (displayed orders have priority), an execution at a worse
// price, or an order arriving on the other side at a price that crosses it.
// An execution behind us while volume is still ahead of us breaks FIFO in the
// record: it fills nothing and is counted (`fifo_exceptions`).
//
// A trade also clears every level it went through: a depth stream that lags
// the trades (Binance diffs come every 100 ms, trades at once) would otherwise
// show a stale touch and fill quotes re-placed behind the price again and again.
//
// One clock: exchange time. The strategy's view at time t is the book after
// every event with ts <= t (feed latency is applied by the caller shifting the
// decision: commands sent from the view at t reach the exchange at
// t + feed_latency + order_latency). A fill at exchange time f is visible to
// the strategy from view time f + max(0, order_latency - feed_latency).
//
// Mirrors makerkit/backtest/_replay_core.py step for step (differential tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

namespace makerkit {

using std::size_t;

inline constexpr int kEvDepth = 1;  // side, price, new absolute qty at that price
inline constexpr int kEvTrade = 2;  // side = aggressor (+1 buy), price, qty
// The visible window of a depth-limited feed grew: every level of `side`
// strictly between `price` and `qty` (a second price) is emptied; depth
// events that follow restore the ones the window shows.
inline constexpr int kEvClear = 3;
// Order-level events (queue model 2): `side` is the resting order's side.
inline constexpr int kEvAdd = 4;      // an order rests: the level grows by qty
inline constexpr int kEvCancel = 5;   // qty of the order added at event `ref` is cancelled
inline constexpr int kEvExecute = 6;  // qty of the order added at event `ref` is executed
// a hidden order at price executes qty (no visible depth); also in L2 streams
inline constexpr int kEvHidden = 7;
inline constexpr int kQueueL3 = 2;

struct ReplayEvent {
  int64_t ts;
  int64_t price;
  int64_t qty;
  int32_t kind;
  int32_t side;
  int64_t ref = 0;  // order-level events: the index of the touched order's add event
};

// The events as columns, row i one event (kind and side as in ReplayEvent; ref may be
// null for L2 streams). Not owned: the caller keeps them alive and unchanged while the
// core lives (the binding ties the arrays to the core), so a run copies no event.
struct ReplayColumns {
  const int64_t* ts = nullptr;
  const int64_t* kind = nullptr;
  const int64_t* side = nullptr;
  const int64_t* price = nullptr;
  const int64_t* qty = nullptr;
  const int64_t* ref = nullptr;
  size_t n = 0;
  ReplayEvent operator[](size_t i) const {
    return {ts[i], price[i], qty[i], static_cast<int32_t>(kind[i]), static_cast<int32_t>(side[i]),
            ref ? ref[i] : 0};
  }
};

struct ReplayConfig {
  int64_t roi_lo = 0;  // price range kept in the dense book (ticks, inclusive)
  int64_t roi_hi = 0;
  int queue_model = 0;  // 0 conservative, 1 probabilistic, 2 l3 (order-level events)
  double queue_power = 1.0;
  int64_t feed_latency_ns = 0;
  int64_t order_latency_ns = 0;
  int64_t decision_ns = 100'000'000;
  int64_t start_ns = 0;  // first decision time
  bool wake_on_fill = true;  // a visible fill returns to the strategy (not cancels, rejects)
  bool post_only = true;  // a crossing order is rejected; otherwise it takes at the book
  bool clear_on_trade = true;  // a trade empties the levels it went through (see above)
  double maker_fee = 0.0;  // fraction of notional (negative: a rebate)
  double taker_fee = 0.0;
};

// Notices the strategy receives: what happened to its orders.
inline constexpr int kNoticeFill = 1;
inline constexpr int kNoticeCanceled = 2;
inline constexpr int kNoticeRejected = 3;

struct Notice {
  int64_t visible;  // view time from which the strategy may know
  int64_t ts;       // exchange time it happened
  int64_t order_id;
  int64_t price;
  int64_t qty;   // filled (fills) or left (cancels, rejects)
  int64_t left;  // the order's remaining size after it
  int32_t kind;
  int32_t side;
  int32_t maker;
};

// Why run() returned.
inline constexpr int kRunEnd = 0;
inline constexpr int kRunDecision = 1;
inline constexpr int kRunNotice = 2;
inline constexpr int kRunBudget = 3;
inline constexpr int kRunStopped = 4;  // a compiled strategy failed: quotes pulled, run over

// A strategy compiled to machine code (a numba cfunc from makerkit.strategies.KernelStrategy):
// it reads the view, may update its own state and writes the quotes it wants; it answers
// 1, or 0 when it raised (numba has printed the error). The view mirrors StrategyContext
// (makerkit/strategies/_kernel.py holds the same layout): time in s, bid, bid size, ask,
// ask size, mid, position, pnl, prediction; NaN where there is none.
using KernelFn = int32_t (*)(const double* view, const double* params, double* state,
                             double* out);
inline constexpr int kViewSize = 9;
inline constexpr int kKernelOutSize = 4;  // bid, bid size, ask, ask size
// Why a compiled strategy stopped (kernel_status()).
inline constexpr int kKernelOk = 0;
inline constexpr int kKernelRaised = -1;  // the kernel raised; 1..4: out[k - 1] was out of range

// A built-in market maker run inside the core (no return to Python per
// decision). Formulas and rounding mirror makerkit/strategies/_strategies.py and
// the order manager makerkit/strategies/_orders.py operation for operation, so
// a native run and a Python-callback run make the same decisions (tested).
struct NativeStrategy {
  int kind = 0;  // 0 none, 1 symmetric, 2 inventory skew, 3 Avellaneda-Stoikov, 4 GLFT, 5 kernel
  double p[4] = {0, 0, 0, 0};
  int64_t size = 1;
  int64_t max_position = -1;  // < 0: none
  int64_t min_quote_life_ns = 0;
  int64_t price_tolerance = 0;
  int64_t size_tolerance = 0;
  int64_t max_order_size = -1;  // < 0: none
  // kind 5: the compiled strategy, its parameters and its state (owned by the caller)
  KernelFn kernel = nullptr;
  const double* kernel_params = nullptr;
  double* kernel_state = nullptr;
};

// Hidden: only the extension module (linked into the same library) calls it, so its hot
// members are bound directly and inlined into run() instead of called through the PLT.
class __attribute__((visibility("hidden"))) ReplayBacktest {
 public:
  ReplayBacktest(const ReplayConfig& cfg, const ReplayColumns& events);

  // Process until a decision is due, a notice becomes visible (wake_on_fill),
  // `budget` events have been applied, or the data ends.
  int run(int64_t budget);

  // Commands from the strategy, sent at the current view time.
  void submit(int64_t order_id, int side, int64_t price, int64_t qty);
  void cancel(int64_t order_id);
  // An immediate order (IOC): it takes what the book shows up to `price` on
  // arrival, taker fee, never rests and is never refused as post-only; what it
  // cannot take is canceled at once. No market impact: the book is the record.
  void take(int64_t order_id, int side, int64_t price, int64_t qty);

  // Notices visible at the current view time, oldest first; removes them.
  std::vector<Notice> take_notices();
  // How many notices are visible at the current view time.
  int64_t visible_notices() const;

  // Streaming: when the events run out, `refill` is asked for more (it calls
  // next_chunk and returns true, or returns false at the end of the data).
  // Event indices (the l3 `ref` column, an order's place in its queue) count
  // from the first chunk, so a stream replays exactly as its concatenation.
  void set_refill(std::function<bool()> refill) {
    refill_ = std::move(refill);
    stream_done_ = false;
  }
  void next_chunk(const ReplayColumns& events) {
    base_ += ev_.n;
    ev_ = events;
    i_ = 0;
  }

  bool order_level() const { return cfg_.queue_model == kQueueL3; }
  // The last event time of the current chunk (a next chunk must not start before it).
  int64_t last_event_ts() const {
    return ev_.n > 0 ? ev_.ts[ev_.n - 1] : std::numeric_limits<int64_t>::min();
  }

  int64_t now() const { return now_; }
  int64_t events_done() const { return static_cast<int64_t>(base_ + i_); }
  int64_t events_total() const { return static_cast<int64_t>(base_ + ev_.n); }
  bool best(int side, int64_t& price, int64_t& qty) const;
  // Up to n non-empty levels from the touch outwards.
  size_t top(int side, size_t n, int64_t* prices, int64_t* qtys) const;
  int64_t depth_at(int side, int64_t price) const;
  int64_t position() const { return position_; }
  // Position, cash and fees as the strategy knows them at the current view time:
  // without the fills whose reports have not reached it yet.
  void seen(int64_t& position, int64_t& cash, double& fees) const;
  int64_t cash() const { return cash_; }  // ticks x lots, before fees
  double fees() const { return fees_; }
  int64_t ignored() const { return ignored_; }  // depth events outside the price range
  int64_t rejected() const { return rejected_; }
  int64_t open_orders() const { return static_cast<int64_t>(orders_.size()); }
  int64_t fifo_exceptions() const { return fifo_exceptions_; }
  // The volume ahead of our resting order in its queue; -1 when it is not resting.
  double queue_ahead(int64_t order_id) const {
    for (const Order& o : orders_)
      if (o.id == order_id && o.left > 0) return o.ahead;
    return -1.0;
  }

  // Every fill so far.
  std::vector<int64_t> fill_ts, fill_order, fill_side, fill_price, fill_qty, fill_maker;
  // Every refused (post-only, would have crossed) order so far: when it arrived, its side.
  std::vector<int64_t> reject_ts, reject_side;

  // Decide inside run() with a built-in strategy from now on.
  void set_strategy(const NativeStrategy& s);
  // kind 5 only: why it stopped (kKernelOk while it runs; see kKernelRaised) and the
  // value it wrote that was out of range.
  int kernel_status() const { return kernel_status_; }
  double kernel_bad_value() const { return kernel_bad_value_; }
  // The strategy decides outside (run() still returns at decisions) but its
  // quotes are carried out here, by the same order-manager rules as the
  // built-ins (the limits of `s`; its kind must be 0): see apply_quotes.
  void set_manager(const NativeStrategy& s);
  // Move our quotes towards (bid price, size, ask price, size) now (a price < 0: that
  // side is not quoted); `record`: add a path row when the book is two-sided. Visible
  // notices not taken yet are consumed first (a strategy that ignores fills skips them).
  void apply_quotes(int64_t bid_price, int64_t bid_size, int64_t ask_price, int64_t ask_size,
                    bool record);
  // What the native strategy did: one row per decision with a two-sided book.
  std::vector<int64_t> path_ts;
  std::vector<double> path_mid, path_position, path_equity, path_bid, path_ask, path_both;
  int64_t placed() const { return placed_; }

 private:
  struct Order {
    int64_t id, price, left;
    double ahead;
    int64_t traded;  // trade volume at our price not yet seen in a depth update
    int side;
    int64_t since;  // events applied when it arrived (l3: adds before it are ahead)
  };
  struct Command {
    int64_t arrive, order_id, price, qty;
    int side;  // 0: cancel
    bool immediate = false;  // IOC: take what the book shows, cancel the rest
  };

  void apply_event(const ReplayEvent& e);
  void apply_l3(const ReplayEvent& e);
  void apply_command(const Command& c);
  void set_level(int side, int64_t price, int64_t qty);
  void fill(size_t k, int64_t price, int64_t qty, bool maker, int64_t ts);
  void remove_done();
  void notify(int kind, const Order& o, int64_t price, int64_t qty, int64_t ts, bool maker);
  int64_t& level(int side, int64_t price) {
    return side > 0 ? bids_[static_cast<size_t>(price - cfg_.roi_lo)]
                    : asks_[static_cast<size_t>(price - cfg_.roi_lo)];
  }
  int64_t level(int side, int64_t price) const {
    return side > 0 ? bids_[static_cast<size_t>(price - cfg_.roi_lo)]
                    : asks_[static_cast<size_t>(price - cfg_.roi_lo)];
  }
  bool in_roi(int64_t price) const { return price >= cfg_.roi_lo && price <= cfg_.roi_hi; }

  struct Live {
    int64_t id = 0, price = 0, size = 0, placed = 0;
    bool on = false;
  };
  void decide(int reason);
  void plan(const int64_t intent[4], bool record);
  void forget_done(const Notice& n);
  void quotes(double bid, double ask, int64_t q, int64_t out[4]) const;
  bool kernel_quotes(const int64_t touch[4], const bool sides[2], int64_t q, double pnl,
                     int64_t intent[4]);

  NativeStrategy strat_;
  Live live_[2];  // [0] bid, [1] ask
  int64_t next_id_ = 0, placed_ = 0;
  ReplayConfig cfg_;
  ReplayColumns ev_;
  size_t i_ = 0;
  size_t base_ = 0;  // events in the chunks before this one
  std::function<bool()> refill_;
  bool stream_done_ = false;
  std::vector<int64_t> bids_, asks_;
  int64_t best_bid_, best_ask_;  // roi_lo - 1 / roi_hi + 1 when the side is empty
  std::vector<Order> orders_;
  bool finished_ = false;  // an order filled completely since the last remove_done()
  std::vector<Command> cmds_;
  size_t cmd_head_ = 0;
  std::vector<Notice> notices_;
  size_t notice_head_ = 0;
  int64_t next_decision_;
  int64_t now_ = std::numeric_limits<int64_t>::min();
  int64_t position_ = 0, cash_ = 0, ignored_ = 0, rejected_ = 0, fifo_exceptions_ = 0;
  double fees_ = 0.0;
  int kernel_status_ = kKernelOk;
  double kernel_bad_value_ = 0.0;
};

}  // namespace makerkit
