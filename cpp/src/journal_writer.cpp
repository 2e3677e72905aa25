#include "makerkit/journal_writer.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace makerkit {

namespace {

constexpr const char* kInsertCommand =
    "INSERT INTO commands (ts, account, kind, payload) VALUES (?,?,?,?)";
constexpr const char* kInsertEvent =
    "INSERT INTO events (ts, kind, account, symbol, order_id, payload) VALUES (?,?,?,?,?,?)";

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}

}  // namespace

JournalWriter::JournalWriter(const std::string& path, bool full_sync) {
  if (::pipe(pipe_) != 0) throw JournalError(std::string("pipe: ") + std::strerror(errno));
  for (int fd : pipe_) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  try {
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      throw JournalError(db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory");
    }
    exec("PRAGMA journal_mode=WAL");
    exec(full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    for (auto [sql, stmt] : {std::pair{kInsertCommand, &insert_command_},
                             std::pair{kInsertEvent, &insert_event_}}) {
      if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) !=
          SQLITE_OK) {
        throw JournalError(sqlite3_errmsg(db_));
      }
    }
  } catch (...) {
    close_db();
    for (int& fd : pipe_) ::close(std::exchange(fd, -1));
    throw;
  }
  thread_ = std::thread([this] { run(); });
}

JournalWriter::~JournalWriter() {
  close();
  for (int& fd : pipe_) {
    if (fd >= 0) ::close(std::exchange(fd, -1));
  }
}

void JournalWriter::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> db(db_mutex_);
  close_db();
}

void JournalWriter::close_db() {
  sqlite3_finalize(insert_command_);
  sqlite3_finalize(insert_event_);
  insert_command_ = insert_event_ = nullptr;
  if (db_ != nullptr) sqlite3_close_v2(std::exchange(db_, nullptr));
}

int64_t JournalWriter::submit(std::vector<CommandRow> commands, std::vector<EventRow> events) {
  int64_t ticket = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_) throw JournalError("journal writer is closed");
    ticket = ++next_ticket_;
    queue_.push_back({ticket, false, std::move(commands), std::move(events)});
  }
  wake_.notify_one();
  return ticket;
}

void JournalWriter::write(std::vector<CommandRow> commands, std::vector<EventRow> events) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (stop_) throw JournalError("journal writer is closed");
  const int64_t ticket = ++next_ticket_;
  queue_.push_back({ticket, true, std::move(commands), std::move(events)});
  wake_.notify_one();
  std::optional<std::string> error;
  ended_.wait(lock, [&] {
    auto it = std::find_if(waited_done_.begin(), waited_done_.end(),
                           [&](const Done& d) { return d.first == ticket; });
    if (it == waited_done_.end()) return false;
    error = it->second;
    waited_done_.erase(it);
    return true;
  });
  if (error) throw JournalError(*error);
}

std::vector<JournalWriter::Done> JournalWriter::finished() {
  char sink[256];
  while (::read(pipe_[0], sink, sizeof sink) > 0) {
  }
  std::lock_guard<std::mutex> lock(mutex_);
  return std::exchange(done_, {});
}

void JournalWriter::run() {
  for (;;) {
    Batch batch;
    std::optional<std::string> broken;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopped, and every queued batch is done
      batch = std::move(queue_.front());
      queue_.pop_front();
      broken = broken_;
    }
    std::optional<std::string> error;
    if (broken) {  // a batch after a failed one is never written: the order would break
      error = "not written after an earlier failed write: " + *broken;
    } else {
      std::lock_guard<std::mutex> db(db_mutex_);
      error = commit(batch);
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (error && !broken_) broken_ = error;
      (batch.waited ? waited_done_ : done_).emplace_back(batch.ticket, error);
    }
    if (batch.waited) {
      ended_.notify_all();
    } else {
      const char byte = 1;
      [[maybe_unused]] auto n = ::write(pipe_[1], &byte, 1);  // full: a byte is pending anyway
    }
  }
}

std::optional<std::string> JournalWriter::commit(const Batch& batch) {
  if (db_ == nullptr) return std::string("journal writer is closed");
  try {
    exec("BEGIN IMMEDIATE");
    sqlite3_stmt* s = insert_command_;
    for (const auto& row : batch.commands) {
      sqlite3_bind_int64(s, 1, row.ts);
      sqlite3_bind_int64(s, 2, row.account);
      bind_text(s, 3, row.kind);
      sqlite3_bind_blob(s, 4, row.payload.data(), static_cast<int>(row.payload.size()),
                        SQLITE_STATIC);
      step(s);
    }
    s = insert_event_;
    for (const auto& row : batch.events) {
      sqlite3_bind_int64(s, 1, row.ts);
      bind_text(s, 2, row.kind);
      if (row.account) {
        sqlite3_bind_int64(s, 3, *row.account);
      } else {
        sqlite3_bind_null(s, 3);
      }
      if (row.symbol) {
        bind_text(s, 4, *row.symbol);
      } else {
        sqlite3_bind_null(s, 4);
      }
      if (row.order_id) {
        sqlite3_bind_int64(s, 5, *row.order_id);
      } else {
        sqlite3_bind_null(s, 5);
      }
      bind_text(s, 6, row.payload);
      step(s);
    }
    exec("COMMIT");
  } catch (const JournalError& e) {
    rollback();
    return std::string(e.what());
  }
  return std::nullopt;
}

void JournalWriter::exec(const char* sql) {
  if (db_ == nullptr) throw JournalError("journal writer is closed");
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string why = err != nullptr ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    throw JournalError(why);
  }
}

void JournalWriter::step(sqlite3_stmt* s) {
  if (sqlite3_step(s) != SQLITE_DONE) {
    std::string why = sqlite3_errmsg(db_);  // read before the reset
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    throw JournalError(why);
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);  // the bound rows are freed after the batch
}

void JournalWriter::rollback() {
  // SQLite may have rolled back already (SQLITE_FULL can); never throw from here
  if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void JournalWriter::execute(const std::string& sql) {
  std::lock_guard<std::mutex> db(db_mutex_);
  exec(sql.c_str());
}

std::optional<int64_t> JournalWriter::query_int(const std::string& sql) {
  std::lock_guard<std::mutex> db(db_mutex_);
  if (db_ == nullptr) throw JournalError("journal writer is closed");
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    throw JournalError(sqlite3_errmsg(db_));
  }
  std::optional<int64_t> out;
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) out = sqlite3_column_int64(stmt, 0);
  std::string why = rc == SQLITE_ROW || rc == SQLITE_DONE ? "" : sqlite3_errmsg(db_);
  sqlite3_finalize(stmt);
  if (!why.empty()) throw JournalError(why);
  return out;
}

}  // namespace makerkit
