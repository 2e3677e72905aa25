// The venue journal's writer: appends a batch of commands and history rows to
// the SQLite journal in one transaction and commits it (fsync'd with
// synchronous=FULL).
//
// Why native: the rows are copied in once, and everything after that (binding,
// B-tree and index updates, WAL writes, the fsync) runs on the writer's own
// thread, which never needs Python's GIL. A batch submitted without waiting
// reports its end through a pipe the event loop watches, so neither the commit
// nor its completion waits for a busy interpreter to hand over the GIL.
//
// It links the same shared libsqlite3 as Python's sqlite3 module: one copy of
// SQLite in the process, so the file locks of the two connections stay coherent.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace makerkit {

// A failed write; the transaction was rolled back and nothing of the batch is kept.
class JournalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CommandRow {
  int64_t ts;
  int64_t account;
  std::string kind;
  std::string payload;  // stored as a BLOB
};

struct EventRow {
  int64_t ts;
  std::string kind;
  std::optional<int64_t> account;
  std::optional<std::string> symbol;
  std::optional<int64_t> order_id;
  std::string payload;  // JSON, stored as TEXT
};

class JournalWriter {
 public:
  // A batch's end: its ticket and, when it failed, why (nothing of it was kept).
  using Done = std::pair<int64_t, std::optional<std::string>>;

  // Opens its own connection to an existing journal (the schema is made by the
  // owner); WAL, synchronous FULL or NORMAL.
  JournalWriter(const std::string& path, bool full_sync);
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  // Queue a batch (BEGIN, every row in order, COMMIT) for the writer's thread;
  // return its ticket. Batches commit in the order submitted; after a failed
  // one, every later batch fails too, unwritten. Its end is read with finished().
  int64_t submit(std::vector<CommandRow> commands, std::vector<EventRow> events);
  // submit() and wait for that batch; JournalError (rolled back) on failure.
  void write(std::vector<CommandRow> commands, std::vector<EventRow> events);
  // Readable (a byte a batch) once a submitted batch has ended.
  int completion_fd() const { return pipe_[0]; }
  // The submitted batches that ended since the last call, in order; drains the pipe.
  std::vector<Done> finished();
  // Run SQL on this connection, between batches (pragmas, maintenance).
  void execute(const std::string& sql);
  // The first column of the first row of `sql` as an integer (nullopt: no row).
  std::optional<int64_t> query_int(const std::string& sql);
  // Finish the queued batches, stop the thread, close the connection.
  void close();

 private:
  struct Batch {
    int64_t ticket;
    bool waited;  // write(): the caller waits for it; not reported by finished()
    std::vector<CommandRow> commands;
    std::vector<EventRow> events;
  };

  void run();
  std::optional<std::string> commit(const Batch& batch);
  void exec(const char* sql);
  void step(sqlite3_stmt* s);
  void rollback();
  void close_db();

  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_command_ = nullptr;
  sqlite3_stmt* insert_event_ = nullptr;
  int pipe_[2] = {-1, -1};

  std::mutex db_mutex_;  // the connection: one batch or statement at a time
  std::mutex mutex_;     // everything below
  std::condition_variable wake_;   // the thread: a batch queued, or stop
  std::condition_variable ended_;  // write(): a waited batch ended
  std::deque<Batch> queue_;
  std::vector<Done> done_;          // submitted batches ended, not yet read
  std::vector<Done> waited_done_;   // write()'s batches ended
  std::optional<std::string> broken_;
  int64_t next_ticket_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace makerkit
