// Value types of the native matching engine. Prices are int64 ticks, sizes
// int64 lots, timestamps int64 nanoseconds. The numbers of every enum equal
// those of makerkit.core (Python); they are part of the published contract.
#pragma once

#include <cstdint>

namespace makerkit {

enum class Side : int8_t { Buy = 1, Sell = -1 };
enum class OrderType : uint8_t { Limit = 0, Market = 1 };
enum class Tif : uint8_t { GTC = 0, IOC = 1, FOK = 2, PostOnly = 3 };
enum class Status : uint8_t {
  New = 0,
  PartiallyFilled = 1,
  Filled = 2,
  Canceled = 3,
  Rejected = 4,
  Expired = 5,
};
enum class Stp : uint8_t { None = 0, CancelNewest = 1, CancelOldest = 2, CancelBoth = 3 };

// Reject reasons: identical numbers to makerkit.core.RejectReason.
enum class ErrorCode : uint8_t {
  Ok = 0,
  OffTick = 1,
  OffLot = 2,
  NonPositiveQty = 3,
  NonPositivePrice = 4,
  UnknownOrder = 5,
  DuplicateOrderId = 6,
  PostOnlyWouldCross = 7,
  NoLiquidity = 8,
  FokNotFillable = 9,
  SelfTrade = 10,
  InvalidOrderId = 11,
  InvalidField = 12,
  InvalidTif = 13,
  QtyExceedsRemaining = 14,
};

struct Fill {
  int64_t seq;
  int64_t maker_order_id;
  int64_t taker_order_id;
  int64_t price;
  int64_t qty;
  int64_t maker_account;
  int64_t taker_account;
  int64_t ts;
  int8_t aggressor;  // +1 buy, -1 sell
};

// What one command did. Fills and STP cancels of the last command are kept
// by the book (last_fills / last_canceled) so no per-fill allocation or
// callback is needed.
struct Result {
  int64_t order_id = 0;
  int64_t filled = 0;
  int64_t remaining = 0;
  int64_t seq = 0;
  Status status = Status::Rejected;
  ErrorCode reason = ErrorCode::Ok;
};

// Marker for "keep the current value" in modify().
inline constexpr int64_t kKeep = INT64_MIN;

}  // namespace makerkit
