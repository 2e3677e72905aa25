// C++ unit tests of the core matching rules (no Python). Run by `make test`
// through ctest; the Python suite and the differential test cover the rest.
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "makerkit/lobster_replay.hpp"
#include "makerkit/order_book.hpp"
#include "makerkit/simulator.hpp"

using namespace makerkit;

static int failures = 0;
#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

static Result limit(OrderBook& b, int64_t id, int side, int64_t px, int64_t qty, int tif = 0,
                    int64_t account = 0, int stp = 1) {
  return b.submit(id, side, px, qty, 0, tif, account, stp, 0);
}

static void test_price_time_priority() {
  OrderBook b;
  limit(b, 1, -1, 101, 5);
  limit(b, 2, -1, 100, 5);
  limit(b, 3, -1, 100, 5);
  const Result r = limit(b, 4, 1, 101, 12);
  CHECK(r.status == Status::Filled);
  const auto& f = b.last_fills();
  CHECK(f.size() == 3);
  CHECK(f[0].maker_order_id == 2 && f[1].maker_order_id == 3 && f[2].maker_order_id == 1);
  CHECK(f[2].qty == 2 && f[2].price == 101);
  CHECK(b.remaining(1) == 3);
  CHECK(b.size() == 1);
}

static void test_rejects_change_nothing() {
  OrderBook b;
  limit(b, 1, -1, 100, 5);
  const int64_t seq = b.seq();
  CHECK(limit(b, 1, 1, 90, 1).reason == ErrorCode::DuplicateOrderId);
  CHECK(limit(b, 2, 1, 100, 1, 3).reason == ErrorCode::PostOnlyWouldCross);
  CHECK(limit(b, 3, 1, 100, 6, 2).reason == ErrorCode::FokNotFillable);
  CHECK(limit(b, 0, 1, 100, 6).reason == ErrorCode::InvalidOrderId);
  CHECK(limit(b, 4, 1, 100, 0).reason == ErrorCode::NonPositiveQty);
  CHECK(limit(b, 5, 1, 0, 1).reason == ErrorCode::NonPositivePrice);
  CHECK(b.submit(6, -1, 0, 1, 1, 0, 0, 1, 0).reason == ErrorCode::NoLiquidity);
  CHECK(b.cancel(99, 0).reason == ErrorCode::UnknownOrder);
  CHECK(b.execute(1, 6, 0).reason == ErrorCode::QtyExceedsRemaining);
  CHECK(b.seq() == seq);
  CHECK(b.remaining(1) == 5);
}

static void test_modify_priority() {
  OrderBook b;
  limit(b, 1, 1, 100, 5);
  limit(b, 2, 1, 100, 5);
  b.modify(1, kKeep, 3, 0);  // size down keeps priority
  std::vector<RestingView> v;
  b.orders_at(1, 100, v);
  CHECK(v.size() == 2 && v[0].order_id == 1 && v[0].qty == 3);
  b.modify(1, kKeep, 4, 0);  // size up loses it
  b.orders_at(1, 100, v);
  CHECK(v[0].order_id == 2 && v[1].order_id == 1);
  CHECK(b.depth_at(1, 100) == 9);
}

static void test_self_trade_prevention() {
  OrderBook b;
  limit(b, 1, -1, 100, 2, 0, 8);
  limit(b, 2, -1, 100, 2, 0, 7);
  Result r = limit(b, 3, 1, 100, 3, 0, 8, 2);  // cancel oldest
  CHECK(b.last_canceled().size() == 1 && b.last_canceled()[0] == 1);
  CHECK(r.filled == 2 && r.status == Status::PartiallyFilled);
  limit(b, 4, -1, 101, 2, 0, 8);
  r = limit(b, 5, -1, 99, 1, 0, 8, 1);  // cancel newest against own bid 3
  CHECK(r.status == Status::Canceled && r.reason == ErrorCode::SelfTrade);
}

static void test_no_growth_in_steady_state() {
  OrderBook b(16);
  for (int64_t i = 1; i <= 200000; ++i) {
    limit(b, i, (i & 1) ? 1 : -1, (i & 1) ? 100 - (i % 7) : 101 + (i % 7), 1 + i % 5);
    if (i > 50) b.cancel(i - 50, 0);
  }
  CHECK(b.size() == 50);
  std::vector<Fill> fills;
  b.fills(fills);
  CHECK(fills.size() <= 16);
}

static void test_lobster_replay_small_day() {
  // level 1: bid 100 x 10 exists before the file; message 0 adds an ask
  const int64_t type[] = {1, 4, 3};
  const int64_t id[] = {5, 77, 5};
  const int64_t size[] = {3, 4, 3};
  const int64_t price[] = {10100, 10000, 10100};
  const int64_t dir[] = {-1, 1, -1};
  const int64_t ts[] = {1, 2, 3};
  const int64_t book[] = {10100, 3, 10000, 10,  //
                          10100, 3, 10000, 6,   //
                          kLobsterDummyAsk, 0, 10000, 6};
  LobsterInput in;
  in.rows = 3;
  in.type = type;
  in.order_id = id;
  in.size = size;
  in.price = price;
  in.direction = dir;
  in.ts = ts;
  in.book = book;
  in.levels = 1;
  in.tick = 100;
  OrderBook b;
  const LobsterStats st = replay_lobster(b, in);
  CHECK(st.mismatched_rows == 0);
  CHECK(st.initial_levels == 1);
  CHECK(st.placeholder_refs == 1);
  CHECK(st.visible_volume == 4);
}


// rows as LOBSTER lays them out: ask price, ask size, bid price, bid size per level
static void test_top_matches_rows() {
  OrderBook b;
  limit(b, 1, -1, 101, 5);
  limit(b, 2, -1, 102, 7);
  limit(b, 3, 1, 99, 4);
  const int64_t full[8] = {10100, 5, 9900, 4, 10200, 7, kLobsterDummyBid, 0};
  CHECK(b.top_matches(-1, full, 2, 4, 100, kLobsterDummyAsk));
  CHECK(b.top_matches(1, full + 2, 2, 4, 100, kLobsterDummyBid));  // one bid, then a dummy
  CHECK(b.top_matches(1, full + 2, 1, 4, 100, kLobsterDummyBid));
  const int64_t wrong_size[4] = {10100, 5, 9900, 3};
  CHECK(!b.top_matches(1, wrong_size + 2, 1, 4, 100, kLobsterDummyBid));
  CHECK(b.top_matches(-1, wrong_size, 1, 4, 100, kLobsterDummyAsk));
  // a dummy where the book has a level is a mismatch, in the full-window path too
  const int64_t short_row[8] = {10100, 5, 9900, 4, kLobsterDummyAsk, 0, kLobsterDummyBid, 0};
  CHECK(!b.top_matches(-1, short_row, 2, 4, 100, kLobsterDummyAsk));
  // a book level at the dummy price never matches a dummy
  OrderBook d;
  limit(d, 1, -1, 101, 5);
  limit(d, 2, -1, kLobsterDummyAsk / 100, 0 + 1);
  const int64_t at_dummy[8] = {10100, 5, 0, 0, kLobsterDummyAsk / 100 * 100, 1, 0, 0};
  CHECK(d.top_matches(-1, at_dummy, 2, 4, 100, kLobsterDummyAsk / 100 * 100 + 1));
  const int64_t dummy_row[8] = {10100, 5, 0, 0, kLobsterDummyAsk / 100 * 100, 1, 0, 0};
  CHECK(!d.top_matches(-1, dummy_row, 2, 4, 100, kLobsterDummyAsk / 100 * 100));
}


static SimParams small_market() {
  SimParams p;
  for (int d = 0; d < 12; ++d) {
    p.limit_rate.push_back(1.0 / (d + 1));
    p.cancel_rate.push_back(0.2);
  }
  p.market_rate = 0.5;
  p.hawkes_alpha = 0.5;
  p.hawkes_beta = 2.0;
  p.value_rate = 1.0;
  p.informed = 1.0;
  p.limit_sizes = {1, 3};
  p.limit_size_cdf = {0.6, 1.0};
  p.market_sizes = {1, 2};
  p.market_size_cdf = {0.5, 1.0};
  p.improve_rate = {0.0, 0.2, 0.4};
  p.improve_cdf = {0.7, 1.0};
  return p;
}

static void test_simulator_is_deterministic_and_consistent() {
  OrderBook a(0), b(0);
  Simulator sa(a, small_market(), 9), sb(b, small_market(), 9);
  SimOutput oa, ob;
  sa.run(50000, true, oa);
  sb.run(20000, true, ob);
  sb.run(30000, true, ob);  // in two chunks: the same market
  CHECK(oa.action == ob.action && oa.price == ob.price && oa.ts == ob.ts && oa.l1 == ob.l1);
  // only a market order meeting an empty side is refused, and rarely
  CHECK(oa.action.size() == 50000 && oa.fills > 0 && oa.rejected < 50);
  CHECK(sa.live_orders() == a.size());  // it tracks exactly the orders resting in the book
  int64_t bid = 0, ask = 0, size = 0;
  CHECK(!a.best(1, bid, size) || !a.best(-1, ask, size) || bid < ask);
}

static void test_simulator_shares_its_book() {
  // another account's orders trade the simulator's away; it must carry on
  OrderBook b(0);
  Simulator sim(b, small_market(), 3);
  SimOutput out;
  int64_t id = int64_t{1} << 40;
  for (int round = 0; round < 200; ++round) {
    sim.run(200, false, out);
    int64_t bid = 0, ask = 0, size = 0;
    if (b.best(-1, ask, size)) b.submit(++id, 1, ask + 2, 50, 0, 1, 7, 1, 0);  // IOC sweep
    if (b.best(1, bid, size)) b.submit(++id, -1, bid, 3, 0, 0, 7, 1, 0);       // rests or trades
  }
  CHECK(out.fills > 0);
  CHECK(out.proposals > 40000);  // it kept going after its orders were taken
}

int main() {
  test_price_time_priority();
  test_rejects_change_nothing();
  test_modify_priority();
  test_self_trade_prevention();
  test_no_growth_in_steady_state();
  test_lobster_replay_small_day();
  test_top_matches_rows();
  test_simulator_is_deterministic_and_consistent();
  test_simulator_shares_its_book();
  if (failures) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return EXIT_FAILURE;
  }
  std::printf("all C++ order book tests passed\n");
  return EXIT_SUCCESS;
}
