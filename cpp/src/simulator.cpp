// See makerkit/simulator.hpp for the model. makerkit/data/_simulator.py runs
// the same algorithm with the same random numbers in Python (the live market
// driver and the reference the differential test compares this with).
#include "makerkit/simulator.hpp"

#include <cmath>
#include <utility>

namespace makerkit {

namespace {

// splitmix64: tiny, fast, and easy to reproduce exactly in Python
uint64_t next_u64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double uniform(uint64_t& s) { return static_cast<double>(next_u64(s) >> 11) * 0x1.0p-53; }

size_t pick(const std::vector<double>& cdf, double u) {
  const auto it = std::upper_bound(cdf.begin(), cdf.end(), u * cdf.back());
  return std::min(static_cast<size_t>(it - cdf.begin()), cdf.size() - 1);
}

}  // namespace

Simulator::Simulator(OrderBook& book, SimParams params, uint64_t seed)
    : book_(book), p_(std::move(params)), rng_(seed) {
  limit_cdf_.resize(p_.limit_rate.size());
  double acc = 0.0;
  for (size_t i = 0; i < p_.limit_rate.size(); ++i) limit_cdf_[i] = acc += p_.limit_rate[i];
  limit_total_ = acc;
  for (const double c : p_.cancel_rate) theta_max_ = std::max(theta_max_, c);
  for (const double c : p_.touch_cancel_by_spread) theta_max_ = std::max(theta_max_, c);
  value_ = p_.start_price;
  if (p_.activity_sigma > 0.0) {
    const double sigma = p_.activity_sigma;
    act_phi_ = std::exp(-p_.activity_step / p_.activity_tau);
    act_shock_ = sigma * std::sqrt(1.0 - act_phi_ * act_phi_) * std::sqrt(12.0);
    act_x_ = sigma * std::sqrt(12.0) * (uniform(rng_) - 0.5);  // a stationary start
    activity_ = std::exp(act_x_ + 0.5 * sigma * sigma);
    next_act_ = p_.activity_step;
  }
}

void Simulator::step_activity() {
  // uniform shocks of the stationary variance; exp(x + sigma^2 / 2) keeps E[1 / A] = 1
  act_x_ = act_x_ * act_phi_ + act_shock_ * (uniform(rng_) - 0.5);
  activity_ = std::exp(act_x_ + 0.5 * p_.activity_sigma * p_.activity_sigma);
}

double Simulator::profile_speed() const {
  const auto& table = p_.activity_profile;
  if (table.empty()) return 1.0;
  const auto k = static_cast<size_t>(t_ / p_.profile_step);
  return k < table.size() ? table[k] : 1.0;
}

double Simulator::price_scale() const {
  const auto& table = p_.price_profile;
  if (table.empty()) return 1.0;
  const auto k = static_cast<size_t>(t_ / p_.profile_step);
  return k < table.size() ? table[k] : 1.0;
}

int64_t Simulator::scaled(int64_t ticks, double scale) {
  if (ticks <= 0) return 0;
  return std::max<int64_t>(
      static_cast<int64_t>(std::floor(static_cast<double>(ticks) / scale + 0.5)), 1);
}

void Simulator::advance_clock(double dt) {
  if (!(p_.activity_sigma > 0.0) && p_.activity_profile.empty()) {
    t_ += dt;
    return;
  }
  tau_ += dt;
  t_ += dt / (activity_ * profile_speed());
  while (p_.activity_sigma > 0.0 && tau_ >= next_act_) {
    step_activity();
    next_act_ += p_.activity_step;
  }
}

void Simulator::run(int64_t events, bool record, SimOutput& out, int64_t until_ns,
                    int64_t watch_from) {
  record_ = record;
  emitted_ = 0;
  watch_from_ = watch_from;
  stop_ = false;
  if (record) {
    const size_t n = static_cast<size_t>(std::max<int64_t>(events, 0));
    for (auto* v : {&out.action, &out.order_id, &out.side, &out.price, &out.qty, &out.ts})
      v->reserve(v->size() + n);
    out.l1.reserve(out.l1.size() + 4 * n);
  }
  seed_book(events, out);
  const size_t k_levels = p_.cancel_rate.size();
  while (emitted_ < events && !stop_ && now_ns() < until_ns) {
    const double scale = price_scale();
    const int64_t raw = spread_now();
    const int64_t spread = scaled(raw, scale);
    const double base = p_.market_rate_by_spread.empty()
                            ? p_.market_rate
                            : by_spread(p_.market_rate_by_spread, spread);
    const double mu = base + excitation_;
    const double cancel_total = theta_max_ * static_cast<double>(live_.size());
    // nothing fits inside one tick; else the table at the scaled spread
    const double improve = raw == 1 ? 0.0 : by_spread(p_.improve_rate, spread);
    const double side_rate = limit_total_ + improve;
    const double total = 2.0 * side_rate + cancel_total + mu + p_.value_rate;
    if (!(total > 0.0)) break;
    const double dt = -std::log1p(-uniform(rng_)) / total;
    advance_clock(dt);
    excitation_ *= std::exp(-p_.hawkes_beta * dt);
    ++out.proposals;
    double x = uniform(rng_) * total;
    if (x < 2.0 * side_rate) {
      add_limit(x < side_rate ? 1 : -1, improve, scale, out);
      continue;
    }
    x -= 2.0 * side_rate;
    if (x < cancel_total) {
      const size_t k = static_cast<size_t>(uniform(rng_) * static_cast<double>(live_.size()));
      const int64_t id = live_[std::min(k, live_.size() - 1)];
      const Order* o = book_.order(id);
      if (o == nullptr) {  // filled by someone else sharing the book
        forget(id);
        continue;
      }
      const int side = o->side;
      int64_t best = 0, size = 0;
      book_.best(side, best, size);
      const int64_t d = side == 1 ? best - o->price : o->price - best;
      const size_t bucket = std::min(static_cast<size_t>(scaled(d, scale)), k_levels - 1);
      const double rate = bucket == 0 && !p_.touch_cancel_by_spread.empty()
                              ? by_spread(p_.touch_cancel_by_spread, spread)
                              : p_.cancel_rate[bucket];
      if (uniform(rng_) * theta_max_ < rate) {
        book_.cancel(id, now_ns());
        forget(id);
        emit(1, id, side, 0, 0, out);
      }
      continue;
    }
    x -= cancel_total;
    if (x < mu) {
      // thinning: the intensity decayed during dt
      if (uniform(rng_) * mu < base + excitation_) market_order(scale, out);
      continue;
    }
    const int64_t step = std::max<int64_t>(static_cast<int64_t>(std::floor(scale + 0.5)), 1);
    set_value(value_ + (uniform(rng_) < 0.5 ? step : -step));
  }
}

int64_t Simulator::draw(const std::vector<int64_t>& sizes, const std::vector<double>& cdf) {
  return sizes[pick(cdf, uniform(rng_))];
}

void Simulator::seed_book(int64_t events, SimOutput& out) {
  if (seeded_) return;
  seeded_ = true;
  const int64_t levels = static_cast<int64_t>(p_.cancel_rate.size());
  for (int64_t j = 0; j < levels && emitted_ < events; ++j) {
    place(1, std::max<int64_t>(1, value_ - 1 - j), draw(p_.limit_sizes, p_.limit_size_cdf), out);
    place(-1, value_ + 1 + j, draw(p_.limit_sizes, p_.limit_size_cdf), out);
  }
}

int64_t Simulator::spread_now() const {
  int64_t bid = 0, ask = 0, size = 0;
  if (!book_.best(1, bid, size) || !book_.best(-1, ask, size)) return 0;
  return ask - bid;
}

double Simulator::by_spread(const std::vector<double>& table, int64_t spread) {
  const size_t last = table.size() - 1;
  return spread <= 0 ? table[last] : table[std::min(static_cast<size_t>(spread - 1), last)];
}

void Simulator::add_limit(int side, double improve, double scale, SimOutput& out) {
  int64_t bid = 0, ask = 0, size = 0;
  const bool has_bid = book_.best(1, bid, size);
  const bool has_ask = book_.best(-1, ask, size);
  // the own best, or where it would be
  int64_t own;
  if (side == 1)
    own = has_bid ? bid : (has_ask ? std::min(ask - 1, value_ - 1) : value_ - 1);
  else
    own = has_ask ? ask : (has_bid ? std::max(bid + 1, value_ + 1) : value_ + 1);
  int64_t price;
  if (uniform(rng_) * (limit_total_ + improve) < improve) {
    const double u = uniform(rng_);
    int64_t j;
    if (!p_.improve_ratio.empty() && has_bid && has_ask) {
      // land where the new spread is r times the old one (at least 1 tick, at least 1 better)
      const int64_t spread = ask - bid;
      const size_t n = p_.improve_ratio.size();
      const size_t k = std::min(static_cast<size_t>(u * static_cast<double>(n)), n - 1);
      const double r = p_.improve_ratio[k];
      const auto target = static_cast<int64_t>(std::floor(r * static_cast<double>(spread) + 0.5));
      j = spread - std::clamp<int64_t>(target, 1, spread - 1);
    } else {
      const auto ticks = static_cast<double>(pick(p_.improve_cdf, u) + 1);
      j = std::max<int64_t>(static_cast<int64_t>(std::floor(ticks * scale + 0.5)), 1);
    }
    if (side == 1 && has_ask) j = std::min(j, ask - 1 - own);
    if (side == -1 && has_bid) j = std::min(j, own - bid - 1);
    price = own + side * std::max<int64_t>(j, 0);
  } else {
    const auto behind = static_cast<double>(pick(limit_cdf_, uniform(rng_)));
    price = own - side * static_cast<int64_t>(std::floor(behind * scale + 0.5));
  }
  price = std::max<int64_t>(price, 1);
  if ((side == 1 && has_ask && price >= ask) || (side == -1 && has_bid && price <= bid))
    return;  // only at the price floor
  place(side, price, draw(p_.limit_sizes, p_.limit_size_cdf), out);
}

void Simulator::place(int side, int64_t price, int64_t qty, SimOutput& out) {
  const int64_t id = next_id_++;
  const Result r = book_.submit(id, side, price, qty, 0, 0, 0, 1, now_ns());
  if (r.status == Status::Rejected) {
    ++out.rejected;
  } else if (book_.remaining(id) > 0) {
    remember(id);
  }
  collect_fills(out);
  emit(0, id, side, price, qty, out);
}

void Simulator::market_order(double scale, SimOutput& out) {
  int64_t bid = 0, ask = 0, size = 0;
  const bool has_bid = book_.best(1, bid, size);
  const bool has_ask = book_.best(-1, ask, size);
  // value minus mid, in ticks
  const double gap = (has_bid && has_ask)
                         ? static_cast<double>(value_) - static_cast<double>(bid + ask) / 2.0
                         : 0.0;
  const double p_buy_gap = gap / scale;  // in ticks of the scaled grid
  const double p_buy = 1.0 / (1.0 + std::exp(-p_.informed * p_buy_gap));
  const int side = uniform(rng_) < p_buy ? 1 : -1;
  int64_t qty = draw(p_.market_sizes, p_.market_size_cdf);
  if (p_.market_within_touch > 0.0 && uniform(rng_) < p_.market_within_touch) {
    int64_t best = 0, touch = 0;  // take at most what rests at the opposite best
    if (book_.best(-side, best, touch)) qty = std::min(qty, touch);
  }
  const int64_t id = next_id_++;
  const Result r = book_.submit(id, side, 0, qty, 1, 0, 0, 1, now_ns());
  if (r.status == Status::Rejected) ++out.rejected;
  collect_fills(out);
  excitation_ += p_.hawkes_alpha;
  emit(3, id, side, 0, qty, out);
}

void Simulator::collect_fills(SimOutput& out) {
  for (const Fill& f : book_.last_fills()) {
    ++out.fills;
    out.volume += f.qty;
    if (f.maker_order_id >= watch_from_) stop_ = true;
    if (book_.remaining(f.maker_order_id) == 0) forget(f.maker_order_id);
  }
}

void Simulator::remember(int64_t id) {
  if (static_cast<size_t>(id) >= pos_.size()) pos_.resize(static_cast<size_t>(id) * 2 + 16, -1);
  pos_[static_cast<size_t>(id)] = static_cast<int64_t>(live_.size());
  live_.push_back(id);
}

void Simulator::forget(int64_t id) {
  if (static_cast<size_t>(id) >= pos_.size()) return;
  const int64_t k = pos_[static_cast<size_t>(id)];
  if (k < 0) return;
  const int64_t last = live_.back();
  live_[static_cast<size_t>(k)] = last;
  pos_[static_cast<size_t>(last)] = k;
  live_.pop_back();
  pos_[static_cast<size_t>(id)] = -1;
}

void Simulator::emit(int64_t action, int64_t id, int64_t side, int64_t price, int64_t qty,
                     SimOutput& out) {
  ++emitted_;
  if (!record_) return;
  out.action.push_back(action);
  out.order_id.push_back(id);
  out.side.push_back(side);
  out.price.push_back(price);
  out.qty.push_back(qty);
  out.ts.push_back(now_ns());
  int64_t p = 0, s = 0;
  const bool b = book_.best(1, p, s);
  out.l1.push_back(b ? p : 0);
  out.l1.push_back(b ? s : 0);
  const bool a = book_.best(-1, p, s);
  out.l1.push_back(a ? p : 0);
  out.l1.push_back(a ? s : 0);
}

}  // namespace makerkit
