// Order-flow simulator: a zero-intelligence market in the spirit of
// Cont, Stoikov and Talreja (2010), with self-exciting market orders and an
// informed component, driving the real matching engine.
//
// Events, in continuous time (Gillespie, exact by thinning):
//  - a limit order on either side, at rate limit_rate[d] per side d ticks behind
//    its own side's best quote (d = 0 joins the best), or, at a rate per side
//    that depends on the spread (improve_rate[spread - 1], the last entry for
//    wider or one-sided books), inside the spread, j ticks better than the
//    best (j drawn from improve_cdf, capped one tick short of the other side:
//    it never crosses);
//  - a cancellation of a resting order at distance d from its own side's best
//    quote, at rate cancel_rate[min(d, K-1)] per order (so a level's
//    cancellations grow with its queue);
//  - a market order at rate mu(t) = market_rate + excitation, where each market
//    order adds hawkes_alpha to the excitation, which decays at hawkes_beta/s;
//    it buys with probability 1 / (1 + exp(-informed * (V - mid) / tick));
//  - a move of the fundamental value V by one tick either way at value_rate.
// Optional, off by default (the original model):
//  - improve_ratio: an improving order lands where the new spread is r times
//    the old one (r drawn from this table of equally likely ratios, the new
//    spread rounded and kept between 1 and the old spread - 1) instead of
//    improve_cdf ticks better;
//  - market_rate_by_spread: the market orders' base rate at a spread of s
//    ticks (entry s - 1, the last for wider or one-sided books) instead of
//    market_rate: takers cross more when crossing is cheap;
//  - touch_cancel_by_spread: the cancellation rate of an order at its side's
//    best at a spread of s ticks (same indexing) instead of cancel_rate[0];
//  - market_within_touch: the probability that a market order takes at most
//    what rests at the opposite best (a marketable order limited to the
//    touch, as nearly all real ones are); the others walk the book;
//  - activity_sigma > 0: every rate runs on a business clock. Calendar time
//    advances by dtau / A, where log A is an autoregressive process (one step
//    of activity_step business seconds, mean reversion activity_tau, uniform
//    shocks, stationary standard deviation activity_sigma), shifted so that
//    calendar time keeps the calibrated mean rates. Busy and quiet spells
//    give returns volatility clustering; the market-order excitation decays
//    in business time too;
//  - activity_profile: a multiplier of the business clock's speed for each
//    profile_step seconds of calendar time since start_ns (1 beyond its end):
//    the day's intraday shape, such as a busy open;
//  - price_profile: the price scale k for each profile_step seconds of
//    calendar time (1 beyond its end): every distance the flow chooses (behind
//    the best, an improvement by improve_cdf ticks, a step of V) is k times as
//    many ticks (rounded), every table by distance or spread is read at
//    round(ticks / k) (at least 1), and the informed flow reads V - mid / k: the
//    same market on a grid k times as coarse (a wide, jumpy opening).
// With informed > 0, market orders anticipate where the price goes: passive
// quotes are adversely selected, as in real markets.
//
// Sizes (lots) are drawn from empirical tables. Every event is emitted as an
// order-stream command (the same codes as makerkit.data.OrderStream), so the
// stream replays through either engine to the same fills.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "makerkit/order_book.hpp"

namespace makerkit {

struct SimParams {
  std::vector<double> limit_rate;   // per side, by distance 0..K-1 behind the own best
  std::vector<double> improve_rate{0.0};  // per side, inside the spread, by spread - 1
  std::vector<double> improve_cdf{1.0};  // cumulative weights of improving by 1, 2, ... ticks
  std::vector<double> cancel_rate;  // per order, by distance 0..K-1 from its own best
  double market_rate = 0.0;         // both sides together, per second
  double hawkes_alpha = 0.0;
  double hawkes_beta = 1.0;
  double value_rate = 0.0;
  double informed = 0.0;
  std::vector<int64_t> limit_sizes;
  std::vector<double> limit_size_cdf;
  std::vector<int64_t> market_sizes;
  std::vector<double> market_size_cdf;
  int64_t start_price = 10000;  // ticks
  int64_t start_ns = 0;
  std::vector<double> improve_ratio;  // empty: improve by improve_cdf ticks
  std::vector<double> market_rate_by_spread;   // empty: market_rate
  std::vector<double> touch_cancel_by_spread;  // empty: cancel_rate[0]
  double market_within_touch = 0.0;
  double activity_sigma = 0.0;        // 0: no business clock
  double activity_tau = 600.0;        // business seconds
  double activity_step = 1.0;         // business seconds
  double profile_step = 300.0;        // calendar seconds per profile entry
  std::vector<double> activity_profile;  // empty: 1
  std::vector<double> price_profile;     // empty: 1
};

struct SimOutput {
  // one row per emitted command (the OrderStream columns)
  std::vector<int64_t> action, order_id, side, price, qty, ts;
  // book after each command: best bid, its size, best ask, its size (0 = none)
  std::vector<int64_t> l1;
  int64_t fills = 0;
  int64_t volume = 0;
  int64_t rejected = 0;
  int64_t proposals = 0;  // candidate events including those thinned away
};

// The simulation's state between runs: the book it drives (not owned; it
// should start empty and nothing else should touch it), its own resting
// orders, the fundamental value, the market-order excitation and the clock.
class Simulator {
 public:
  Simulator(OrderBook& book, SimParams params, uint64_t seed);
  // Emit `events` more commands; `record` false keeps only the counters. It
  // stops early once the clock reaches `until_ns` (checked before each draw, so
  // after the event that crossed it) or after a command that filled an order
  // with id >= `watch_from` (someone else's orders sharing the book).
  void run(int64_t events, bool record, SimOutput& out,
           int64_t until_ns = std::numeric_limits<int64_t>::max(),
           int64_t watch_from = std::numeric_limits<int64_t>::max());
  int64_t emitted() const { return emitted_; }
  int64_t value() const { return value_; }
  void set_value(int64_t v) { value_ = std::max<int64_t>(v, 2); }
  double seconds() const { return t_; }
  size_t live_orders() const { return live_.size(); }
  const SimParams& params() const { return p_; }

 private:
  int64_t now_ns() const { return p_.start_ns + static_cast<int64_t>(t_ * 1e9); }
  int64_t draw(const std::vector<int64_t>& sizes, const std::vector<double>& cdf);
  void seed_book(int64_t events, SimOutput& out);
  void add_limit(int side, double improve, double scale, SimOutput& out);
  int64_t spread_now() const;  // 0 when a side is empty
  static double by_spread(const std::vector<double>& table, int64_t spread);
  void place(int side, int64_t price, int64_t qty, SimOutput& out);
  void market_order(double scale, SimOutput& out);
  void collect_fills(SimOutput& out);
  void remember(int64_t id);
  void forget(int64_t id);
  void emit(int64_t action, int64_t id, int64_t side, int64_t price, int64_t qty,
            SimOutput& out);
  void advance_clock(double dt);
  double profile_speed() const;
  double price_scale() const;
  static int64_t scaled(int64_t ticks, double scale);
  void step_activity();

  OrderBook& book_;
  SimParams p_;
  uint64_t rng_;
  bool record_ = false;
  bool seeded_ = false;
  std::vector<double> limit_cdf_;
  double limit_total_ = 0.0;
  double theta_max_ = 0.0;
  double excitation_ = 0.0;
  double t_ = 0.0;
  double tau_ = 0.0;  // business time (equal to t_ without activity)
  double activity_ = 1.0;
  double act_x_ = 0.0;
  double act_phi_ = 0.0;
  double act_shock_ = 0.0;
  double next_act_ = 0.0;
  int64_t value_ = 0;
  int64_t next_id_ = 1;
  int64_t emitted_ = 0;
  int64_t watch_from_ = std::numeric_limits<int64_t>::max();
  bool stop_ = false;
  std::vector<int64_t> live_;
  std::vector<int64_t> pos_;
};

}  // namespace makerkit
