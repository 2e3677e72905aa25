// nanobind bindings: the only C++ that knows about Python.
//
// Engine mutators return small tuples (status, reason, filled, remaining,
// seq, n_fills, n_canceled) that makerkit.book._native_book turns into the
// project's result types; reject codes never become exceptions here, because
// a rejected command is a normal result. Malformed batch arrays raise
// TypeError/ValueError naming the field, from check_column() only.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#ifdef MAKERKIT_HAVE_SQLITE
#include "makerkit/journal_writer.hpp"
#endif
#include "makerkit/lobster_replay.hpp"
#include "makerkit/order_book.hpp"
#include "makerkit/replay_backtest.hpp"
#include "makerkit/simulator.hpp"

namespace nb = nanobind;
using namespace nb::literals;
using makerkit::OrderBook;
using makerkit::Result;

namespace {

using ResultTuple = std::tuple<int, int, int64_t, int64_t, int64_t, size_t, size_t>;
using Column = nb::ndarray<const int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using Matrix = nb::ndarray<const int64_t, nb::ndim<2>, nb::c_contig, nb::device::cpu>;

ResultTuple pack(const OrderBook& book, const Result& r) {
  return {static_cast<int>(r.status), static_cast<int>(r.reason), r.filled, r.remaining, r.seq,
          book.last_fills().size(), book.last_canceled().size()};
}

using FillTuple = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int, int64_t, int64_t,
                             int64_t>;

FillTuple fill_tuple(const makerkit::Fill& f) {
  return {f.seq, f.maker_order_id, f.taker_order_id, f.price, f.qty, f.aggressor,
          f.maker_account, f.taker_account, f.ts};
}

// Accept any 1-d int64 array of the right length; name the field otherwise.
const int64_t* check_column(nb::handle obj, const char* name, int64_t rows) {
  Column col;
  if (!nb::try_cast(obj, col, false)) {
    throw nb::type_error(
        (std::string("invalid `") + name +
         "`, must be a 1-d C-contiguous numpy int64 array")
            .c_str());
  }
  if (rows >= 0 && static_cast<int64_t>(col.shape(0)) != rows) {
    throw nb::value_error((std::string("invalid `") + name + "`, must have " +
                           std::to_string(rows) + " rows, was " + std::to_string(col.shape(0)))
                              .c_str());
  }
  return col.data();
}

// Hand a vector to numpy without copying: the array owns it through a capsule.
// `rows` < 0: as many rows of `cols` as the data holds.
template <typename T>
nb::ndarray<nb::numpy, T, nb::ndim<2>> to_numpy_t(std::vector<T>&& data, size_t cols,
                                                 int64_t rows = -1) {
  auto* owned = new std::vector<T>(std::move(data));
  nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<T>*>(p); });
  const size_t r = rows >= 0 ? static_cast<size_t>(rows) : (cols ? owned->size() / cols : 0);
  return nb::ndarray<nb::numpy, T, nb::ndim<2>>(owned->data(), {r, cols}, owner);
}

nb::ndarray<nb::numpy, int64_t, nb::ndim<2>> to_numpy(std::vector<int64_t>&& data, size_t cols,
                                                      int64_t rows = -1) {
  return to_numpy_t<int64_t>(std::move(data), cols, rows);
}

std::vector<int64_t> as_vector(nb::handle seq) {
  std::vector<int64_t> out;
  for (nb::handle item : seq) out.push_back(nb::cast<int64_t>(item));
  return out;
}

// One rule set for simulator parameters; names the field that is wrong.
void check_sim_params(const makerkit::SimParams& p) {
  auto fail = [](const std::string& msg) { throw nb::value_error(("invalid " + msg).c_str()); };
  if (p.limit_rate.empty()) fail("`limit_rate`, must list at least one distance");
  if (p.cancel_rate.empty()) fail("`cancel_rate`, must list at least one distance");
  for (double r : p.limit_rate)
    if (!(r >= 0.0) || !std::isfinite(r)) fail("`limit_rate`, rates must be finite and >= 0");
  for (double r : p.cancel_rate)
    if (!(r >= 0.0) || !std::isfinite(r)) fail("`cancel_rate`, rates must be finite and >= 0");
  if (p.improve_cdf.empty() || !(p.improve_cdf.back() > 0.0))
    fail("`improve_cdf`, must be non-empty with a positive total weight");
  for (size_t i = 1; i < p.improve_cdf.size(); ++i)
    if (!(p.improve_cdf[i] >= p.improve_cdf[i - 1])) fail("`improve_cdf`, must be cumulative");
  if (p.improve_rate.empty()) fail("`improve_rate`, must list at least one spread");
  for (double r : p.improve_rate)
    if (!(r >= 0.0) || !std::isfinite(r)) fail("`improve_rate`, rates must be finite and >= 0");
  for (double r : {p.market_rate, p.hawkes_alpha, p.value_rate, p.informed})
    if (!(r >= 0.0) || !std::isfinite(r))
      fail("market_rate / hawkes_alpha / value_rate / informed, must be finite and >= 0");
  if (!(p.hawkes_beta > 0.0) || !std::isfinite(p.hawkes_beta)) fail("`hawkes_beta`, must be > 0");
  for (const auto* t : {&p.limit_size_cdf, &p.market_size_cdf}) {
    const auto& sizes = t == &p.limit_size_cdf ? p.limit_sizes : p.market_sizes;
    const char* name = t == &p.limit_size_cdf ? "`limit_sizes`" : "`market_sizes`";
    if (sizes.empty() || sizes.size() != t->size())
      fail(std::string(name) + ", must be non-empty with one cumulative weight per size");
    for (size_t i = 0; i < sizes.size(); ++i)
      if (sizes[i] <= 0 || !std::isfinite((*t)[i]) || (i && (*t)[i] < (*t)[i - 1]))
        fail(std::string(name) + ", sizes must be > 0 and weights cumulative");
    if (!(t->back() > 0.0)) fail(std::string(name) + ", total weight must be > 0");
  }
  if (p.start_price < 2) fail("`start_price`, must be >= 2 ticks");
  for (const auto* t : {&p.market_rate_by_spread, &p.touch_cancel_by_spread})
    for (double r : *t)
      if (!(r >= 0.0) || !std::isfinite(r))
        fail("market_rate_by_spread / touch_cancel_by_spread, rates must be finite and >= 0");
  for (double r : p.improve_ratio)
    if (!(r >= 0.0 && r <= 1.0)) fail("`improve_ratio`, ratios must be in [0, 1]");
  if (!(p.market_within_touch >= 0.0 && p.market_within_touch <= 1.0))
    fail("`market_within_touch`, must be a probability in [0, 1]");
  if (!(p.activity_sigma >= 0.0) || !std::isfinite(p.activity_sigma))
    fail("`activity_sigma`, must be finite and >= 0");
  if (!(p.activity_tau > 0.0) || !std::isfinite(p.activity_tau))
    fail("`activity_tau`, must be finite and > 0");
  if (!(p.activity_step > 0.0) || !std::isfinite(p.activity_step))
    fail("`activity_step`, must be finite and > 0");
  if (!(p.profile_step > 0.0) || !std::isfinite(p.profile_step))
    fail("`profile_step`, must be finite and > 0");
  for (double r : p.activity_profile)
    if (!(r > 0.0) || !std::isfinite(r)) fail("`activity_profile`, must be finite and > 0");
  for (double k : p.price_profile)
    if (!(k > 0.0) || !std::isfinite(k)) fail("`price_profile`, must be finite and > 0");
}

// Whether `kind` is an event kind of the stream (order-level or L2).
bool event_kind_ok(bool l3, int64_t kind) {
  // an order-level stream may clear its book (a new day's snapshot replaces the last)
  if (l3)
    return (kind >= makerkit::kEvAdd && kind <= makerkit::kEvHidden) || kind == makerkit::kEvClear;
  return (kind >= makerkit::kEvDepth && kind <= makerkit::kEvClear) || kind == makerkit::kEvHidden;
}

// Whether any row breaks a rule of event_error (every row looked at, no early exit).
template <bool L3>
bool any_bad_event(const int64_t* ts, const int64_t* kind, const int64_t* side,
                   const int64_t* qty, int64_t n) {
  bool bad = false;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = kind[i], s = side[i];
    const bool kind_ok = L3 ? ((k >= makerkit::kEvAdd) & (k <= makerkit::kEvHidden)) |
                                  (k == makerkit::kEvClear)
                            : ((k >= makerkit::kEvDepth) & (k <= makerkit::kEvClear)) |
                                  (k == makerkit::kEvHidden);
    bad |= !kind_ok | ((s != 1) & (s != -1)) | ((qty[i] < 0) & (k != makerkit::kEvClear));
  }
  for (int64_t i = 1; i < n; ++i) bad |= ts[i] < ts[i - 1];
  return bad;
}

// Why row i of a replay's events is refused: the first rule it breaks.
std::string event_error(int64_t i, bool l3, int64_t kind, int64_t side, int64_t qty) {
  const std::string row = " at row " + std::to_string(i);
  if (!event_kind_ok(l3, kind))
    return "invalid `kind`" + row +
           (l3 ? ", must be 4 (add), 5 (cancel), 6 (execute), 7 (hidden) or 3 (clear) for l3"
               : ", must be 1 (depth), 2 (trade), 3 (clear) or 7 (hidden)");
  if (side != 1 && side != -1) return "invalid `side`" + row + ", must be 1 or -1";
  if (qty < 0 && kind != makerkit::kEvClear) return "invalid `qty`" + row + ", must be >= 0";
  return "invalid `ts`" + row + ", must not decrease";
}

// A replay's event columns, checked once (the core reads them in place, so the caller keeps
// them alive): without a branch a row (vectorized), then a second pass names the first bad
// row. `what` begins the message when an order-level stream lacks its ref column.
makerkit::ReplayColumns replay_columns(nb::handle ts, nb::handle kind, nb::handle side,
                                       nb::handle price, nb::handle qty, nb::handle ref, bool l3,
                                       const char* what) {
  const auto n = static_cast<int64_t>(nb::len(ts));
  makerkit::ReplayColumns ev;
  ev.ts = check_column(ts, "ts", n);
  ev.kind = check_column(kind, "kind", n);
  ev.side = check_column(side, "side", n);
  ev.price = check_column(price, "price", n);
  ev.qty = check_column(qty, "qty", n);
  ev.ref = ref.is_none() ? nullptr : check_column(ref, "ref", n);
  ev.n = static_cast<size_t>(n);
  if (l3 && ev.ref == nullptr)
    throw nb::value_error((std::string(what) + " queue model 2 (l3) needs the ref column").c_str());
  const int64_t *t = ev.ts, *k = ev.kind, *s = ev.side, *q = ev.qty;
  const bool bad = l3 ? any_bad_event<true>(t, k, s, q, n) : any_bad_event<false>(t, k, s, q, n);
  for (int64_t i = 0; bad && i < n; ++i) {
    const int64_t ki = k[i], si = s[i], qi = q[i];
    if (!event_kind_ok(l3, ki) || (si != 1 && si != -1) ||
        (qi < 0 && ki != makerkit::kEvClear) || (i > 0 && t[i] < t[i - 1]))
      throw nb::value_error(event_error(i, l3, ki, si, qi).c_str());
  }
  return ev;
}

// A stop of the replay as a Python strategy sees it: (reason, notices waiting, context).
// At a decision or a notice the context is `make(**{names[i]: values[i]})` with the values
// (now, bid, ask, bid size, ask size, position, pnl, features); None otherwise. Position
// and pnl are what the strategy's reports have told it (fills not yet visible left out);
// pnl is its cash after fees marked to the mid, as the session computes it
// (cash + q (bid + ask) / 2). One object crosses to Python, not eight.
using Stop = nb::typed<nb::tuple, int, bool, nb::object>;

Stop replay_stop(const makerkit::ReplayBacktest& b, int reason, nb::handle make,
                 nb::handle names, nb::handle features) {
  const bool pending = b.visible_notices() > 0;
  if (reason != makerkit::kRunDecision && reason != makerkit::kRunNotice)
    return nb::borrow<Stop>(nb::make_tuple(reason, pending, nb::none()));
  int64_t bp = 0, bq = 0, ap = 0, aq = 0;
  const bool hb = b.best(1, bp, bq), ha = b.best(-1, ap, aq);
  int64_t q = 0, cash = 0;
  double fees = 0.0;
  b.seen(q, cash, fees);
  const double money = static_cast<double>(cash) - fees;
  const double pnl = hb && ha ? money + static_cast<double>(q * (bp + ap)) / 2 : money;
  const nb::object values[] = {
      nb::int_(b.now()),    hb ? nb::object(nb::int_(bp)) : nb::none(),
      ha ? nb::object(nb::int_(ap)) : nb::none(), nb::int_(hb ? bq : 0),
      nb::int_(ha ? aq : 0), nb::int_(q), nb::float_(pnl), nb::borrow(features)};
  constexpr size_t n = std::size(values);
  if (!nb::isinstance<nb::tuple>(names) || nb::len(names) != n)
    throw nb::type_error("invalid `names`, must be a tuple of 8 keyword names");
  PyObject* args[n];
  for (size_t i = 0; i < n; ++i) args[i] = values[i].ptr();
  PyObject* ctx = PyObject_Vectorcall(make.ptr(), args, 0, names.ptr());
  if (ctx == nullptr) throw nb::python_error();
  return nb::borrow<Stop>(nb::make_tuple(reason, pending, nb::steal(ctx)));
}

// The order manager's rules every strategy kind shares (-1: no max_order_size).
makerkit::NativeStrategy order_rules(int64_t min_quote_life_ns, int64_t price_tolerance,
                                     int64_t size_tolerance, int64_t max_order_size) {
  makerkit::NativeStrategy st;
  st.min_quote_life_ns = min_quote_life_ns;
  st.price_tolerance = price_tolerance;
  st.size_tolerance = size_tolerance;
  st.max_order_size = max_order_size;
  return st;
}

// One field of a strategy's quote: an int (not a bool); a price may be None (not quoted: -1).
int64_t quote_field(nb::handle v, const char* name, bool price) {
  if (price && v.is_none()) return -1;
  int64_t out = 0;
  if (!nb::isinstance<nb::bool_>(v) && nb::try_cast<int64_t>(v, out)) return out;
  throw nb::type_error((std::string("invalid `") + name + "`, must be an int" +
                        (price ? " (ticks) or None" : " (lots)") + ", was " +
                        nb::repr(v).c_str())
                           .c_str());
}

#ifdef MAKERKIT_HAVE_SQLITE
// A str or bytes value's UTF-8 bytes (JSON payloads arrive either way).
std::string text_or_bytes(nb::handle obj, const char* name) {
  if (PyBytes_Check(obj.ptr())) {
    return std::string(PyBytes_AS_STRING(obj.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(obj.ptr())));
  }
  Py_ssize_t size = 0;
  const char* data = PyUnicode_Check(obj.ptr()) ? PyUnicode_AsUTF8AndSize(obj.ptr(), &size) : nullptr;
  if (data == nullptr) {
    PyErr_Clear();
    throw nb::type_error((std::string("invalid journal row: `") + name + "` must be str or bytes").c_str());
  }
  return std::string(data, static_cast<size_t>(size));
}

nb::handle row_item(nb::handle row, Py_ssize_t i, Py_ssize_t width) {
  if (!PyTuple_Check(row.ptr()) || PyTuple_GET_SIZE(row.ptr()) != width) {
    throw nb::type_error(("invalid journal row: must be a tuple of " + std::to_string(width)).c_str());
  }
  return PyTuple_GET_ITEM(row.ptr(), i);
}

std::optional<int64_t> optional_int(nb::handle obj) {
  if (obj.is_none()) return std::nullopt;
  return nb::cast<int64_t>(obj);
}

using Rows = std::pair<std::vector<makerkit::CommandRow>, std::vector<makerkit::EventRow>>;

// Copy a batch's rows out of Python (the GIL is held); the writer never touches them as objects.
Rows copy_rows(nb::handle commands, nb::handle events) {
  Rows rows;
  rows.first.reserve(nb::len(commands));
  for (nb::handle row : commands) {
    rows.first.push_back({nb::cast<int64_t>(row_item(row, 0, 4)),
                          nb::cast<int64_t>(row_item(row, 1, 4)),
                          text_or_bytes(row_item(row, 2, 4), "kind"),
                          text_or_bytes(row_item(row, 3, 4), "payload")});
  }
  rows.second.reserve(nb::len(events));
  for (nb::handle row : events) {
    nb::handle symbol = row_item(row, 3, 6);
    rows.second.push_back(
        {nb::cast<int64_t>(row_item(row, 0, 6)), text_or_bytes(row_item(row, 1, 6), "kind"),
         optional_int(row_item(row, 2, 6)),
         symbol.is_none() ? std::nullopt
                          : std::optional<std::string>(text_or_bytes(symbol, "symbol")),
         optional_int(row_item(row, 4, 6)), text_or_bytes(row_item(row, 5, 6), "payload")});
  }
  return rows;
}
#endif

}  // namespace

NB_MODULE(_native, m) {
  m.doc() = "Native matching engine of makerkit (C++20). Use makerkit.book, not this module.";

  nb::class_<OrderBook>(m, "Engine", "One instrument's order book. Not thread-safe.")
      .def(nb::init<int64_t>(), "fill_history"_a = 100000)
      .def(
          "submit",
          [](OrderBook& b, int64_t order_id, int64_t side, int64_t price, int64_t qty,
             int64_t order_type, int64_t tif, int64_t account, int64_t stp, int64_t ts) {
            return pack(b, b.submit(order_id, side, price, qty, order_type, tif, account, stp, ts));
          },
          "order_id"_a, "side"_a, "price"_a, "qty"_a, "order_type"_a, "tif"_a, "account"_a,
          "stp"_a, "ts"_a)
      .def(
          "cancel",
          [](OrderBook& b, int64_t order_id, int64_t ts) { return pack(b, b.cancel(order_id, ts)); },
          "order_id"_a, "ts"_a)
      .def(
          "reduce",
          [](OrderBook& b, int64_t order_id, int64_t qty, int64_t ts) {
            return pack(b, b.reduce(order_id, qty, ts));
          },
          "order_id"_a, "qty"_a, "ts"_a)
      .def(
          "execute",
          [](OrderBook& b, int64_t order_id, int64_t qty, int64_t ts) {
            return pack(b, b.execute(order_id, qty, ts));
          },
          "order_id"_a, "qty"_a, "ts"_a)
      .def(
          "modify",
          [](OrderBook& b, int64_t order_id, int64_t price, int64_t qty, int64_t ts) {
            return pack(b, b.modify(order_id, price, qty, ts));
          },
          "order_id"_a, "price"_a, "qty"_a, "ts"_a,
          "price/qty equal to KEEP leave that field unchanged")
      .def(
          "last_fills",
          [](const OrderBook& b) {
            std::vector<FillTuple> out;
            for (const auto& f : b.last_fills()) out.push_back(fill_tuple(f));
            return out;
          },
          "Fills of the last command as tuples (seq, maker, taker, price, qty, aggressor, "
          "maker_account, taker_account, ts).")
      .def("last_canceled", [](const OrderBook& b) { return b.last_canceled(); })
      .def_prop_ro("seq", &OrderBook::seq)
      .def("__len__", &OrderBook::size)
      .def("__contains__", &OrderBook::contains, "order_id"_a)
      .def("remaining", &OrderBook::remaining, "order_id"_a)
      .def(
          "best",
          [](const OrderBook& b, int side) -> std::optional<std::tuple<int64_t, int64_t>> {
            int64_t p = 0, s = 0;
            if (!b.best(side, p, s)) return std::nullopt;
            return std::make_tuple(p, s);
          },
          "side"_a)
      .def(
          "top",
          [](const OrderBook& b, int side, size_t depth) {
            depth = std::min(depth, b.level_count(side));
            std::vector<int64_t> prices(depth), sizes(depth);
            const size_t n = b.top(side, depth, prices.data(), sizes.data(), nullptr);
            prices.resize(n);
            sizes.resize(n);
            return std::make_tuple(prices, sizes);
          },
          "side"_a, "depth"_a)
      .def(
          "levels",
          [](const OrderBook& b, int side, size_t depth) {
            depth = std::min(depth, b.level_count(side));
            std::vector<int64_t> prices(depth), sizes(depth);
            std::vector<int32_t> counts(depth);
            const size_t n = b.top(side, depth, prices.data(), sizes.data(), counts.data());
            std::vector<std::tuple<int64_t, int64_t, int32_t>> out;
            for (size_t k = 0; k < n; ++k) out.emplace_back(prices[k], sizes[k], counts[k]);
            return out;
          },
          "side"_a, "depth"_a)
      .def(
          "top_equals",
          [](const OrderBook& b, size_t depth, nb::handle ap, nb::handle as, nb::handle bp,
             nb::handle bs) {
            depth = std::min(depth, std::max(b.level_count(1), b.level_count(-1)));
            std::vector<int64_t> prices(depth), sizes(depth);
            const nb::handle want[4] = {ap, as, bp, bs};
            for (int side_i = 0; side_i < 2; ++side_i) {
              const int side = side_i == 0 ? -1 : 1;
              const size_t n = b.top(side, depth, prices.data(), sizes.data(), nullptr);
              const std::vector<int64_t> wp = as_vector(want[2 * side_i]);
              const std::vector<int64_t> ws = as_vector(want[2 * side_i + 1]);
              if (wp.size() != n || ws.size() != n) return false;
              for (size_t k = 0; k < n; ++k)
                if (wp[k] != prices[k] || ws[k] != sizes[k]) return false;
            }
            return true;
          },
          "depth"_a, "ask_prices"_a, "ask_sizes"_a, "bid_prices"_a, "bid_sizes"_a)
      .def("depth_at", &OrderBook::depth_at, "side"_a, "price"_a)
      .def(
          "orders_at",
          [](const OrderBook& b, int side, int64_t price) {
            std::vector<makerkit::RestingView> views;
            b.orders_at(side, price, views);
            std::vector<std::tuple<int64_t, int64_t, int64_t>> out;
            for (const auto& v : views) out.emplace_back(v.order_id, v.qty, v.account);
            return out;
          },
          "side"_a, "price"_a)
      .def(
          "order",
          [](const OrderBook& b, int64_t order_id)
              -> std::optional<std::tuple<int64_t, int, int64_t, int64_t, int64_t, int64_t,
                                          int64_t, int, int, int, int64_t>> {
            const makerkit::Order* o = b.order(order_id);
            if (!o) return std::nullopt;
            return std::make_tuple(o->id, int{o->side}, o->price, o->qty, o->remaining, o->filled,
                                   o->account, int{o->type}, int{o->tif}, int{o->stp}, o->ts);
          },
          "order_id"_a)
      .def("order_ids",
           [](const OrderBook& b) {
             std::vector<const makerkit::Order*> all;
             b.all_orders(all);
             std::vector<int64_t> out;
             out.reserve(all.size());
             for (const auto* o : all) out.push_back(o->id);
             return out;
           })
      .def(
          "restore_order",
          [](OrderBook& b, int64_t order_id, int64_t side, int64_t price, int64_t qty,
             int64_t remaining, int64_t filled, int64_t account, int64_t order_type, int64_t tif,
             int64_t stp, int64_t ts) {
            return static_cast<int>(b.restore_order(order_id, side, price, qty, remaining, filled,
                                                    account, order_type, tif, stp, ts));
          },
          "order_id"_a, "side"_a, "price"_a, "qty"_a, "remaining"_a, "filled"_a, "account"_a,
          "order_type"_a, "tif"_a, "stp"_a, "ts"_a,
          "Put a snapshot's live order back at the tail of its level; returns the reject "
          "reason code (0 = restored).")
      .def(
          "restore_history",
          [](OrderBook& b, int64_t seq, const std::vector<FillTuple>& fills) {
            std::vector<makerkit::Fill> out;
            out.reserve(fills.size());
            for (const auto& t : fills) {
              const auto& [fseq, maker, taker, price, qty, aggressor, maker_account,
                           taker_account, ts] = t;
              out.push_back(makerkit::Fill{fseq, maker, taker, price, qty, maker_account,
                                           taker_account, ts, static_cast<int8_t>(aggressor)});
            }
            b.restore_history(seq, out);
          },
          "seq"_a, "fills"_a, "Set a snapshot's sequence number and fill history.")
      .def("fills", [](const OrderBook& b) {
        std::vector<makerkit::Fill> all;
        b.fills(all);
        std::vector<FillTuple> out;
        out.reserve(all.size());
        for (const auto& f : all) out.push_back(fill_tuple(f));
        return out;
      });

  m.attr("KEEP") = makerkit::kKeep;

  m.def(
      "apply_stream",
      [](OrderBook& b, nb::handle action, nb::handle order_id, nb::handle side, nb::handle price,
         nb::handle qty, nb::handle tif, nb::handle ts) {
        const int64_t rows = static_cast<int64_t>(nb::len(action));
        const int64_t* a = check_column(action, "action", -1);
        const int64_t* id = check_column(order_id, "order_id", rows);
        const int64_t* sd = check_column(side, "side", rows);
        const int64_t* px = check_column(price, "price", rows);
        const int64_t* q = check_column(qty, "qty", rows);
        const int64_t* tf = check_column(tif, "tif", rows);
        const int64_t* t = check_column(ts, "ts", rows);
        int64_t accepted = 0, fills = 0, volume = 0, last_price = -1;
        std::vector<int64_t> rejects(16, 0);
        std::vector<int64_t> fill_rows;  // n x 9, same columns as Engine.last_fills()
        {
          nb::gil_scoped_release release;
          for (int64_t i = 0; i < rows; ++i) {
            Result r;
            switch (a[i]) {
              case 0:
                r = b.submit(id[i], sd[i], px[i], q[i], 0, tf[i], 0, 1, t[i]);
                break;
              case 1:
                r = b.cancel(id[i], t[i]);
                break;
              case 3:
                r = b.submit(id[i], sd[i], 0, q[i], 1, 0, 0, 1, t[i]);
                break;
              case 2:
                r = b.modify(id[i], px[i] ? px[i] : makerkit::kKeep, q[i], t[i]);
                break;
              default:
                r.reason = makerkit::ErrorCode::InvalidField;
            }
            if (r.status == makerkit::Status::Rejected) {
              ++rejects[static_cast<size_t>(r.reason)];
              continue;
            }
            ++accepted;
            for (const auto& f : b.last_fills()) {
              ++fills;
              volume += f.qty;
              last_price = f.price;
              fill_rows.insert(fill_rows.end(), {f.seq, f.maker_order_id, f.taker_order_id, f.price,
                                                 f.qty, f.aggressor, f.maker_account,
                                                 f.taker_account, f.ts});
            }
          }
        }
        return std::make_tuple(accepted, fills, volume, last_price, rejects,
                               to_numpy(std::move(fill_rows), 9));
      },
      "book"_a, "action"_a, "order_id"_a, "side"_a, "price"_a, "qty"_a, "tif"_a, "ts"_a,
      "Apply a whole command stream inside C++; returns (accepted, fills, volume, last_price, "
      "rejects by reason code, fills as an n x 9 int64 array: seq, maker, taker, price, qty, "
      "aggressor, maker_account, taker_account, ts).");

  m.def(
      "apply_l3",
      [](OrderBook& b, nb::handle type, nb::handle order_id, nb::handle side, nb::handle price,
         nb::handle qty, nb::handle ts) {
        const int64_t rows = static_cast<int64_t>(nb::len(type));
        const int64_t* t = check_column(type, "type", -1);
        const int64_t* id = check_column(order_id, "order_id", rows);
        const int64_t* sd = check_column(side, "side", rows);
        const int64_t* px = check_column(price, "price", rows);
        const int64_t* q = check_column(qty, "qty", rows);
        const int64_t* stamp = check_column(ts, "ts", rows);
        int64_t rejected = 0;
        {
          nb::gil_scoped_release release;
          for (int64_t i = 0; i < rows; ++i) {
            Result r;
            switch (t[i]) {
              case 1:
                r = b.submit(id[i], sd[i], px[i], q[i], 0, 0, 0, 1, stamp[i]);
                break;
              case 2:
                r = b.reduce(id[i], q[i], stamp[i]);
                break;
              case 3:
                r = b.cancel(id[i], stamp[i]);
                break;
              case 4:
                r = b.execute(id[i], q[i], stamp[i]);
                break;
              default:
                r.status = makerkit::Status::Rejected;
            }
            rejected += r.status == makerkit::Status::Rejected;
          }
        }
        return rejected;
      },
      "book"_a, "type"_a, "order_id"_a, "side"_a, "price"_a, "qty"_a, "ts"_a,
      "Apply a market-by-order feed (1 add, 2 partial cancel, 3 delete, 4 execute) inside C++; "
      "returns the number of rejected events.");

  m.def(
      "replay_lobster",
      [](OrderBook& b, nb::handle type, nb::handle order_id, nb::handle size, nb::handle price,
         nb::handle direction, nb::handle ts, nb::handle book, int64_t levels, int64_t tick,
         bool check, bool record_l1) {
        makerkit::LobsterInput in;
        in.rows = static_cast<int64_t>(nb::len(type));
        in.type = check_column(type, "type", -1);
        in.order_id = check_column(order_id, "order_id", in.rows);
        in.size = check_column(size, "size", in.rows);
        in.price = check_column(price, "price", in.rows);
        in.direction = check_column(direction, "direction", in.rows);
        in.ts = check_column(ts, "ts", in.rows);
        Matrix mat;
        if (!nb::try_cast(book, mat, false))
          throw nb::type_error(
              "invalid `book`, must be a 2-d C-contiguous numpy int64 array (rows x 4*levels)");
        if (levels <= 0 || static_cast<int64_t>(mat.shape(1)) != 4 * levels ||
            static_cast<int64_t>(mat.shape(0)) != in.rows)
          throw nb::value_error(("invalid `book`, must be " + std::to_string(in.rows) + " x " +
                                 std::to_string(4 * levels) + ", was " +
                                 std::to_string(mat.shape(0)) + " x " +
                                 std::to_string(mat.shape(1)))
                                    .c_str());
        if (tick <= 0) throw nb::value_error("invalid `tick`, must be > 0");
        for (int64_t i = 0; i < in.rows; ++i) {
          const int64_t t = in.type[i];
          if (t < 1 || t > 7)
            throw nb::value_error(("invalid `type` at row " + std::to_string(i) +
                                   ", must be 1..7, was " + std::to_string(t))
                                      .c_str());
          if (in.direction[i] != 1 && in.direction[i] != -1)
            throw nb::value_error(("invalid `direction` at row " + std::to_string(i) +
                                   ", must be 1 or -1, was " + std::to_string(in.direction[i]))
                                      .c_str());
        }
        in.book = mat.data();
        in.levels = levels;
        in.tick = tick;
        in.check = check;
        std::vector<int64_t> l1;
        if (record_l1) {
          l1.assign(static_cast<size_t>(in.rows) * 4, 0);
          in.l1 = l1.data();
        }
        makerkit::LobsterStats st;
        {
          nb::gil_scoped_release release;
          st = makerkit::replay_lobster(b, in);
        }
        nb::typed<nb::dict, nb::str, nb::object> out;
        out["mismatched_rows"] = st.mismatched_rows;
        out["first_mismatch_row"] = st.first_mismatch_row;
        out["seeded_levels"] = st.seeded_levels;
        out["initial_levels"] = st.initial_levels;
        out["placeholder_refs"] = st.placeholder_refs;
        out["unresolved_refs"] = st.unresolved_refs;
        out["dark_refs"] = st.dark_refs;
        out["visible_trades"] = st.visible_trades;
        out["visible_volume"] = st.visible_volume;
        out["hidden_trades"] = st.hidden_trades;
        out["hidden_volume"] = st.hidden_volume;
        out["cross_trades"] = st.cross_trades;
        out["halts"] = st.halts;
        out["halt_violations"] = st.halt_violations;
        out["got"] = nb::make_tuple(st.got_ask_prices, st.got_ask_sizes, st.got_bid_prices,
                                    st.got_bid_sizes);
        out["l1"] = record_l1 ? nb::object(nb::cast(to_numpy(std::move(l1), 4))) : nb::none();
        out["mismatched"] = to_numpy(std::move(st.mismatch_rows), 1);
        return out;
      },
      "book"_a, "type"_a, "order_id"_a, "size"_a, "price"_a, "direction"_a, "ts"_a,
      "orderbook"_a, "levels"_a, "tick"_a, "check"_a = true, "record_l1"_a = false,
      "Replay a LOBSTER day inside C++ and check every orderbook row.");

  nb::class_<makerkit::Simulator>(m, "Simulator",
                                  "Order-flow simulator driving one Engine (see simulator.hpp).")
      .def(
          "__init__",
          [](makerkit::Simulator* self, OrderBook& book, std::vector<double> limit_rate,
             std::vector<double> cancel_rate, double market_rate, double hawkes_alpha,
             double hawkes_beta, double value_rate, double informed,
             std::vector<int64_t> limit_sizes, std::vector<double> limit_size_cdf,
             std::vector<int64_t> market_sizes, std::vector<double> market_size_cdf,
             std::vector<double> improve_rate, std::vector<double> improve_cdf, int64_t start_price,
             int64_t start_ns, std::vector<double> improve_ratio,
             std::vector<double> market_rate_by_spread, std::vector<double> touch_cancel_by_spread,
             double market_within_touch, double activity_sigma, double activity_tau,
             double activity_step, double profile_step, std::vector<double> activity_profile,
             std::vector<double> price_profile, uint64_t seed) {
            makerkit::SimParams p;
            p.limit_rate = std::move(limit_rate);
            p.cancel_rate = std::move(cancel_rate);
            p.market_rate = market_rate;
            p.hawkes_alpha = hawkes_alpha;
            p.hawkes_beta = hawkes_beta;
            p.value_rate = value_rate;
            p.informed = informed;
            p.limit_sizes = std::move(limit_sizes);
            p.limit_size_cdf = std::move(limit_size_cdf);
            p.market_sizes = std::move(market_sizes);
            p.market_size_cdf = std::move(market_size_cdf);
            p.improve_rate = std::move(improve_rate);
            p.improve_cdf = std::move(improve_cdf);
            p.start_price = start_price;
            p.start_ns = start_ns;
            p.improve_ratio = std::move(improve_ratio);
            p.market_rate_by_spread = std::move(market_rate_by_spread);
            p.touch_cancel_by_spread = std::move(touch_cancel_by_spread);
            p.market_within_touch = market_within_touch;
            p.activity_sigma = activity_sigma;
            p.activity_tau = activity_tau;
            p.activity_step = activity_step;
            p.profile_step = profile_step;
            p.activity_profile = std::move(activity_profile);
            p.price_profile = std::move(price_profile);
            check_sim_params(p);
            new (self) makerkit::Simulator(book, std::move(p), seed);
          },
          "book"_a, "limit_rate"_a, "cancel_rate"_a, "market_rate"_a, "hawkes_alpha"_a,
          "hawkes_beta"_a, "value_rate"_a, "informed"_a, "limit_sizes"_a, "limit_size_cdf"_a,
          "market_sizes"_a, "market_size_cdf"_a, "improve_rate"_a, "improve_cdf"_a,
          "start_price"_a, "start_ns"_a, "improve_ratio"_a, "market_rate_by_spread"_a,
          "touch_cancel_by_spread"_a, "market_within_touch"_a, "activity_sigma"_a,
          "activity_tau"_a, "activity_step"_a, "profile_step"_a, "activity_profile"_a,
          "price_profile"_a, "seed"_a,
          nb::keep_alive<1, 2>())
      .def(
          "run",
          [](makerkit::Simulator& sim, int64_t events, bool record, int64_t until_ns,
             int64_t watch_from) {
            if (events < 0) throw nb::value_error("invalid `events`, must be >= 0");
            makerkit::SimOutput out;
            {
              nb::gil_scoped_release release;
              sim.run(events, record, out, until_ns, watch_from);
            }
            nb::typed<nb::dict, nb::str, nb::object> res;
            res["emitted"] = sim.emitted();
            res["fills"] = out.fills;
            res["volume"] = out.volume;
            res["rejected"] = out.rejected;
            res["proposals"] = out.proposals;
            if (record) {
              std::vector<int64_t> cols;
              const size_t n = out.action.size();
              cols.reserve(6 * n);
              for (auto* v : {&out.action, &out.order_id, &out.side, &out.price, &out.qty, &out.ts})
                cols.insert(cols.end(), v->begin(), v->end());
              res["columns"] = to_numpy(std::move(cols), n, 6);  // 6 x n: one row per column
              res["l1"] = to_numpy(std::move(out.l1), 4);
            }
            return res;
          },
          "events"_a, "record"_a = true, "until_ns"_a = std::numeric_limits<int64_t>::max(),
          "watch_from"_a = std::numeric_limits<int64_t>::max(),
          "Emit up to `events` more commands (fewer once the clock reaches `until_ns`, or "
          "after one fills an order with id >= `watch_from`); with `record`, return them "
          "(6 x n: action, order_id, side, price, qty, ts) and the L1 after each (n x 4).")
      .def_prop_rw("value", &makerkit::Simulator::value, &makerkit::Simulator::set_value,
                   "The fundamental value in ticks (the informed flow trades towards it).")
      .def_prop_ro("seconds", &makerkit::Simulator::seconds)
      .def_prop_ro("live_orders", &makerkit::Simulator::live_orders);

  using makerkit::ReplayBacktest;
  nb::class_<ReplayBacktest>(m, "ReplayBacktest",
                             "Replay backtest core: L2 book, queue model, latency "
                             "(see replay_backtest.hpp).")
      .def(
          "__init__",
          [](ReplayBacktest* self, nb::handle ts, nb::handle kind, nb::handle side,
             nb::handle price, nb::handle qty, int64_t roi_lo, int64_t roi_hi, int queue_model,
             double queue_power, int64_t feed_latency_ns, int64_t order_latency_ns,
             int64_t decision_ns, int64_t start_ns, bool wake_on_fill, bool post_only,
             double maker_fee, double taker_fee, nb::handle ref, bool clear_on_trade) {
            if (roi_hi < roi_lo) throw nb::value_error("invalid `roi`, must have lo <= hi");
            if (roi_hi - roi_lo > 200'000'000)
              throw nb::value_error("invalid `roi`, wider than 200M ticks");
            if (queue_model < 0 || queue_model > makerkit::kQueueL3)
              throw nb::value_error("invalid `queue_model`, must be 0, 1 or 2 (l3)");
            if (decision_ns <= 0) throw nb::value_error("invalid `decision_ns`, must be > 0");
            if (feed_latency_ns < 0 || order_latency_ns < 0)
              throw nb::value_error("invalid latency, must be >= 0");
            const makerkit::ReplayColumns ev =
                replay_columns(ts, kind, side, price, qty, ref,
                               queue_model == makerkit::kQueueL3, "invalid `ref`,");
            makerkit::ReplayConfig cfg;
            cfg.roi_lo = roi_lo;
            cfg.roi_hi = roi_hi;
            cfg.queue_model = queue_model;
            cfg.queue_power = queue_power;
            cfg.feed_latency_ns = feed_latency_ns;
            cfg.order_latency_ns = order_latency_ns;
            cfg.decision_ns = decision_ns;
            cfg.start_ns = start_ns;
            cfg.wake_on_fill = wake_on_fill;
            cfg.post_only = post_only;
            cfg.maker_fee = maker_fee;
            cfg.taker_fee = taker_fee;
            cfg.clear_on_trade = clear_on_trade;
            new (self) ReplayBacktest(cfg, ev);
          },
          "ts"_a, "kind"_a, "side"_a, "price"_a, "qty"_a, "roi_lo"_a, "roi_hi"_a,
          "queue_model"_a, "queue_power"_a, "feed_latency_ns"_a, "order_latency_ns"_a,
          "decision_ns"_a, "start_ns"_a, "wake_on_fill"_a, "post_only"_a, "maker_fee"_a,
          "taker_fee"_a, "ref"_a = nb::none(), "clear_on_trade"_a = true,
          // the core reads the event arrays in place: they live as long as it does
          nb::keep_alive<1, 2>(), nb::keep_alive<1, 3>(), nb::keep_alive<1, 4>(),
          nb::keep_alive<1, 5>(), nb::keep_alive<1, 6>(), nb::keep_alive<1, 19>(),
          "The event columns (int64 arrays, C-contiguous) are read in place, not copied: "
          "they must not change while the core lives.")
      .def("run", &ReplayBacktest::run, "budget"_a,
           "Process until a decision (1), a visible notice (2), the budget (3) or the end (0).")
      .def(
          "stream",
          [](ReplayBacktest& b, nb::callable next) {
            // the chunk being read is kept alive here (the last one for good); the one before
            // it is let go when the next arrives
            auto held = std::make_shared<std::vector<nb::object>>();
            b.set_refill([&b, next, held]() -> bool {
              nb::object chunk = next();
              if (chunk.is_none()) return false;  // the last chunk stays: the core reads its end
              if (!nb::isinstance<nb::tuple>(chunk) || nb::len(chunk) != 6)
                throw nb::value_error(
                    "invalid chunk, must be (ts, kind, side, price, qty, ref or None)");
              nb::tuple c = nb::borrow<nb::tuple>(chunk);
              const nb::object cols[6] = {c[0], c[1], c[2], c[3], c[4], c[5]};
              const makerkit::ReplayColumns ev = replay_columns(
                  cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], b.order_level(),
                  "invalid chunk:");
              if (ev.n > 0 && ev.ts[0] < b.last_event_ts())
                throw nb::value_error("invalid chunk: it starts before the previous one ends");
              held->assign(std::begin(cols), std::end(cols));
              b.next_chunk(ev);
              return true;
            });
          },
          "next"_a,
          nb::sig("def stream(self, next: collections.abc.Callable[[], tuple[object, ...] | None]) "
                  "-> None"),
          "Stream the events: when they run out, `next()` gives the next chunk, a tuple "
          "(ts, kind, side, price, qty, ref or None) of int64 arrays, or None at the end. "
          "Indices (ref) count from the first event of the first chunk.")
      .def(
          "step",
          [](ReplayBacktest& b, int64_t budget) {
            const int reason = b.run(budget);
            int64_t bp = 0, bq = 0, ap = 0, aq = 0;
            const bool hb = b.best(1, bp, bq), ha = b.best(-1, ap, aq);
            using P = std::optional<int64_t>;
            int64_t sp = 0, sc = 0;
            double sf = 0.0;
            b.seen(sp, sc, sf);
            return std::make_tuple(reason, b.now(), hb ? P(bp) : std::nullopt, hb ? bq : 0,
                                   ha ? P(ap) : std::nullopt, ha ? aq : 0, b.position(), b.cash(),
                                   b.fees(), b.visible_notices(), sp, sc, sf);
          },
          "budget"_a,
          "run() and the state a decision needs in one call: (reason, now, bid, bid size, ask, "
          "ask size, position, cash, fees, visible notices, and position, cash and fees as the "
          "strategy knows them: without fills whose reports have not arrived).")
      .def(
          "next_stop",
          [](ReplayBacktest& b, int64_t budget, nb::handle make, nb::handle names,
             nb::handle features) {
            return replay_stop(b, b.run(budget), make, names, features);
          },
          "budget"_a, "make"_a, "names"_a, "features"_a,
          "run(), then (reason, notices waiting, context): at a decision or a notice the "
          "context a Python strategy reads, make(**dict(zip(names, (now, bid, ask, bid size, "
          "ask size, position, pnl, features)))), position and pnl as its reports have told "
          "it, pnl marked to the mid after fees; None at the budget or the end.")
      .def(
          "quote_and_run",
          [](ReplayBacktest& b, nb::handle bid_price, nb::handle bid_size, nb::handle ask_price,
             nb::handle ask_size, bool record, int64_t budget, nb::handle make, nb::handle names,
             nb::handle features) {
            const int64_t bp = quote_field(bid_price, "bid_price", true);
            const int64_t bq = quote_field(bid_size, "bid_size", false);
            const int64_t ap = quote_field(ask_price, "ask_price", true);
            const int64_t aq = quote_field(ask_size, "ask_size", false);
            b.apply_quotes(bp, bq, ap, aq, record);
            return replay_stop(b, b.run(budget), make, names, features);
          },
          "bid_price"_a.none(), "bid_size"_a.none(), "ask_price"_a.none(),
          "ask_size"_a.none(), "record"_a, "budget"_a, "make"_a, "names"_a, "features"_a,
          "apply_quotes() (a price None: not quoted; prices and sizes must be ints, else "
          "TypeError and nothing happens), then next_stop(): one call per decision.")
      .def(
          "seen",
          [](const ReplayBacktest& b) {
            int64_t q = 0, cash = 0;
            double fees = 0.0;
            b.seen(q, cash, fees);
            return std::make_tuple(q, cash, fees);
          },
          "(position, cash, fees) as the strategy knows them now: without the fills whose "
          "reports have not arrived.")
      .def("submit", &ReplayBacktest::submit, "order_id"_a, "side"_a, "price"_a, "qty"_a)
      .def("cancel", &ReplayBacktest::cancel, "order_id"_a)
      .def("take", &ReplayBacktest::take, "order_id"_a, "side"_a, "price"_a, "qty"_a,
           "An immediate (IOC) order from the current view time: it takes what the book "
           "shows up to `price` and the rest is canceled; it never rests.")
      .def(
          "notices",
          [](ReplayBacktest& b) {
            std::vector<std::tuple<int, int64_t, int64_t, int, int64_t, int64_t, int64_t, int>> out;
            for (const makerkit::Notice& x : b.take_notices())
              out.emplace_back(x.kind, x.ts, x.order_id, x.side, x.price, x.qty, x.left, x.maker);
            return out;
          },
          "Visible notices, oldest first: (kind, ts, order_id, side, price, qty, left, maker).")
      .def(
          "touch",
          [](const ReplayBacktest& b) {
            int64_t bp = 0, bq = 0, ap = 0, aq = 0;
            const bool hb = b.best(1, bp, bq), ha = b.best(-1, ap, aq);
            using P = std::optional<int64_t>;
            return std::make_tuple(hb ? P(bp) : std::nullopt, hb ? bq : 0,
                                   ha ? P(ap) : std::nullopt, ha ? aq : 0);
          },
          "(best bid, its size, best ask, its size); a missing side is (None, 0).")
      .def(
          "top",
          [](const ReplayBacktest& b, int side, size_t n) {
            std::vector<int64_t> p(n), q(n);
            const size_t k = b.top(side, n, p.data(), q.data());
            p.resize(k);
            q.resize(k);
            return std::make_tuple(p, q);
          },
          "side"_a, "n"_a)
      .def("depth_at", &ReplayBacktest::depth_at, "side"_a, "price"_a)
      .def(
          "fills",
          [](const ReplayBacktest& b) {
            std::vector<int64_t> cols;
            const size_t n = b.fill_ts.size();
            cols.reserve(6 * n);
            for (const auto* v : {&b.fill_ts, &b.fill_order, &b.fill_side, &b.fill_price,
                                  &b.fill_qty, &b.fill_maker})
              cols.insert(cols.end(), v->begin(), v->end());
            return to_numpy(std::move(cols), n, 6);
          },
          "Every fill: 6 x n (ts, order_id, side, price, qty, maker).")
      .def(
          "rejections",
          [](const ReplayBacktest& b) {
            std::vector<int64_t> cols(b.reject_ts);
            const size_t n = cols.size();
            cols.insert(cols.end(), b.reject_side.begin(), b.reject_side.end());
            return to_numpy(std::move(cols), n, 2);
          },
          "Every refused order: 2 x n (arrival ts, side).")
      .def(
          "set_strategy",
          [](ReplayBacktest& b, int kind, std::vector<double> params, int64_t size,
             int64_t max_position, int64_t min_quote_life_ns, int64_t price_tolerance,
             int64_t size_tolerance, int64_t max_order_size) {
            if (kind < 1 || kind > 4) throw nb::value_error("invalid `kind`, must be 1..4");
            if (params.size() > 4) throw nb::value_error("invalid `params`, at most 4");
            if (size < 1) throw nb::value_error("invalid `size`, must be >= 1");
            makerkit::NativeStrategy st =
                order_rules(min_quote_life_ns, price_tolerance, size_tolerance, max_order_size);
            st.kind = kind;
            for (size_t i = 0; i < params.size(); ++i) st.p[i] = params[i];
            st.size = size;
            st.max_position = max_position;
            b.set_strategy(st);
          },
          "kind"_a, "params"_a, "size"_a, "max_position"_a, "min_quote_life_ns"_a,
          "price_tolerance"_a, "size_tolerance"_a, "max_order_size"_a,
          "Decide inside run() with a built-in strategy (1 symmetric, 2 inventory skew, "
          "3 Avellaneda-Stoikov, 4 GLFT); -1 means none for the limits.")
      .def(
          "set_manager",
          [](ReplayBacktest& b, int64_t min_quote_life_ns, int64_t price_tolerance,
             int64_t size_tolerance, int64_t max_order_size) {
            makerkit::NativeStrategy st =
                order_rules(min_quote_life_ns, price_tolerance, size_tolerance, max_order_size);
            b.set_manager(st);
          },
          "min_quote_life_ns"_a, "price_tolerance"_a, "size_tolerance"_a, "max_order_size"_a,
          "The strategy decides in Python (run() returns at decisions); apply_quotes carries "
          "its quotes out with the built-ins' order-manager rules; -1: no max_order_size.")
      .def(
          "set_kernel",
          [](ReplayBacktest& b, uintptr_t address, nb::ndarray<const double, nb::ndim<1>,
                                                              nb::c_contig, nb::device::cpu>
                                                      params,
             nb::ndarray<double, nb::ndim<1>, nb::c_contig, nb::device::cpu> state,
             int64_t min_quote_life_ns, int64_t price_tolerance, int64_t size_tolerance,
             int64_t max_order_size) {
            if (address == 0) throw nb::value_error("invalid `address`, must not be 0");
            makerkit::NativeStrategy st =
                order_rules(min_quote_life_ns, price_tolerance, size_tolerance, max_order_size);
            st.kind = 5;
            st.kernel = reinterpret_cast<makerkit::KernelFn>(address);
            st.kernel_params = params.data();
            st.kernel_state = state.data();
            b.set_strategy(st);
          },
          "address"_a, "params"_a, "state"_a, "min_quote_life_ns"_a, "price_tolerance"_a,
          "size_tolerance"_a, "max_order_size"_a,
          // the kernel reads the parameters and writes the state in place while the core lives
          nb::keep_alive<1, 3>(), nb::keep_alive<1, 4>(),
          "Decide inside run() with a compiled strategy: `address` is a numba cfunc "
          "int32(view*, params*, state*, out*) (makerkit.strategies.KernelStrategy); the "
          "float64 arrays are read and written in place. run() answers 4 once it failed.")
      .def_prop_ro("kernel_status", &ReplayBacktest::kernel_status,
                   "0 while a compiled strategy runs; -1 it raised; 1..4 the out slot (bid, "
                   "bid size, ask, ask size; 1-based) it filled out of range.")
      .def_prop_ro("kernel_bad_value", &ReplayBacktest::kernel_bad_value,
                   "The out-of-range value a compiled strategy wrote (kernel_status 1..4).")
      .def("apply_quotes", &ReplayBacktest::apply_quotes, "bid_price"_a, "bid_size"_a,
           "ask_price"_a, "ask_size"_a, "record"_a,
           "Move our quotes towards these now (a price < 0: not quoted); record: a path row "
           "when the book is two-sided.")
      .def(
          "path",
          [](const ReplayBacktest& b) {
            std::vector<double> cols;
            const size_t n = b.path_ts.size();
            cols.reserve(6 * n);
            for (const auto* v : {&b.path_mid, &b.path_position, &b.path_equity, &b.path_bid,
                                  &b.path_ask, &b.path_both})
              cols.insert(cols.end(), v->begin(), v->end());
            std::vector<int64_t> ts(b.path_ts);
            return std::make_tuple(to_numpy(std::move(ts), n, 1),
                                   to_numpy_t<double>(std::move(cols), n, 6));
          },
          "The native strategy's decisions: (ts as 1 x n, 6 x n: mid, position, equity, bid, "
          "ask, both).")
      .def_prop_ro("placed", &ReplayBacktest::placed)
      .def_prop_ro("now", &ReplayBacktest::now)
      .def_prop_ro("events_done", &ReplayBacktest::events_done)
      .def_prop_ro("events_total", &ReplayBacktest::events_total)
      .def_prop_ro("position", &ReplayBacktest::position)
      .def_prop_ro("cash", &ReplayBacktest::cash)
      .def_prop_ro("fees", &ReplayBacktest::fees)
      .def_prop_ro("ignored", &ReplayBacktest::ignored)
      .def_prop_ro("rejected", &ReplayBacktest::rejected)
      .def_prop_ro("open_orders", &ReplayBacktest::open_orders)
      .def("queue_ahead", &ReplayBacktest::queue_ahead, "order_id"_a,
           "The volume ahead of a resting order of ours in its queue; -1 when not resting.")
      .def_prop_ro("fifo_exceptions", &ReplayBacktest::fifo_exceptions,
                   "l3: executions behind our order while volume was still ahead of it.");

#ifdef MAKERKIT_HAVE_SQLITE
  nb::exception<makerkit::JournalError>(m, "JournalWriteError");
  nb::class_<makerkit::JournalWriter>(
      m, "JournalWriter",
      "The journal's native writer: its own connection to a journal whose schema exists, and "
      "its own thread, which commits each batch in one transaction without the GIL.")
      .def(nb::init<const std::string&, bool>(), "path"_a, "full_sync"_a)
      .def(
          "submit",
          [](makerkit::JournalWriter& w, nb::handle commands, nb::handle events) {
            auto rows = copy_rows(commands, events);
            return w.submit(std::move(rows.first), std::move(rows.second));
          },
          "commands"_a, "events"_a,
          "Queue (ts, account, kind, payload) commands and (ts, kind, account, symbol, order_id, "
          "json) history rows as one transaction; return its ticket. Batches commit in order; "
          "each end is read with finished() once completion_fd is readable.")
      .def(
          "write",
          [](makerkit::JournalWriter& w, nb::handle commands, nb::handle events) {
            auto rows = copy_rows(commands, events);
            nb::gil_scoped_release release;
            w.write(std::move(rows.first), std::move(rows.second));
          },
          "commands"_a, "events"_a,
          "submit() and wait for that batch; JournalWriteError (rolled back) on failure.")
      .def_prop_ro("completion_fd", &makerkit::JournalWriter::completion_fd,
                   "A file descriptor readable once a submitted batch has ended.")
      .def("finished", &makerkit::JournalWriter::finished,
           "The submitted batches ended since the last call, in order: (ticket, error or None).")
      .def(
          "execute",
          [](makerkit::JournalWriter& w, const std::string& sql) {
            nb::gil_scoped_release release;
            w.execute(sql);
          },
          "sql"_a, "Run SQL on this connection, between batches (pragmas, maintenance).")
      .def("query_int", &makerkit::JournalWriter::query_int, "sql"_a,
           "The first column of the first row, as an integer (None: no row).")
      .def(
          "close",
          [](makerkit::JournalWriter& w) {
            nb::gil_scoped_release release;
            w.close();
          },
          "Finish the queued batches, stop the thread, close the connection.");
#endif
}
