package logical

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Sink durably records the changes of one or more committed transactions (deduplicated) and
// returns nil only once they are safe (committed). The [Streamer] confirms a position to
// PostgreSQL only after Sink returned nil for every change up to it; after an error nothing is
// confirmed, and the same changes come again (at least once, never lost).
type Sink func(ctx context.Context, changes []Change) error

// Config configures a [Streamer]. ConnString, Tables and Sink are required.
type Config struct {
	// ConnString is the source database's URL or keyword/value string, as for pgx; the
	// streamer opens its replication connection with replication=database added. The role
	// needs the REPLICATION attribute (or to be a superuser).
	ConnString string
	// Tables are the captured tables; changes of any other table are ignored.
	Tables []Table
	// Sink receives the changes.
	Sink Sink
	// OnSlotLost is called, after the slot was recreated, when the slot had been dropped or
	// invalidated by PostgreSQL (max_slot_wal_keep_size): changes were lost, and the caller
	// re-warms everything. It is retried until it returns nil; nothing is streamed before.
	OnSlotLost func(ctx context.Context) error
	// Logger receives reconnections, slot losses and waits; nil discards them.
	Logger *slog.Logger

	// BatchWindow is how long changes are gathered after a commit before Sink is called, when
	// commits come more often than one a window (more commits arriving meanwhile join the
	// batch); a commit after a quieter spell goes to the Sink at once. Default 5ms.
	BatchWindow time.Duration
	// MaxBatch calls Sink at once when that many distinct changes are gathered. Default 5000.
	MaxBatch int
	// ConfirmInterval is the least time between two confirmations sent to PostgreSQL (the
	// last one is sent when streaming stops). Default 50ms.
	ConfirmInterval time.Duration
	// StatusInterval is how often a standby status update is sent when nothing else sends
	// one. Default 10s (PostgreSQL's wal_sender_timeout is 60s by default).
	StatusInterval time.Duration
	// RetryMin and RetryMax bound the exponential backoff between connection attempts after
	// an error. Defaults 100ms and 5s.
	RetryMin, RetryMax time.Duration
	// SlotWait is how often a streamer whose slot another process streams (the previous
	// leader) tries again. Default 1s.
	SlotWait time.Duration
}

// State is what a [Streamer] is doing.
type State int

const (
	// Stopped: Run is not running.
	Stopped State = iota
	// Connecting: connecting, or waiting to reconnect after an error.
	Connecting
	// WaitingForSlot: another process streams the slot (a previous leader); retrying.
	WaitingForSlot
	// Streaming: the slot is being streamed.
	Streaming
)

func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case WaitingForSlot:
		return "waiting for slot"
	case Streaming:
		return "streaming"
	default:
		return "stopped"
	}
}

// Streamer streams the slot [SlotName] and hands the committed changes of the captured tables
// to a [Sink]. Only one process can stream a slot at a time: run it on the leader only. Its
// methods are safe for concurrent use.
type Streamer struct {
	cfg    Config
	logger *slog.Logger

	mu          sync.Mutex
	state       State
	confirmed   pglogrepl.LSN
	slotLostDue bool // the slot was recreated and OnSlotLost has not returned nil yet
	running     bool
}

// NewStreamer returns a Streamer for cfg, or an error naming what is missing.
func NewStreamer(cfg Config) (*Streamer, error) {
	switch {
	case cfg.ConnString == "":
		return nil, errors.New("logical streamer: no ConnString")
	case cfg.Sink == nil:
		return nil, errors.New("logical streamer: no Sink")
	}
	if _, err := pgconn.ParseConfig(cfg.ConnString); err != nil {
		return nil, fmt.Errorf("logical streamer: %w", err)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.BatchWindow, 5*time.Millisecond)
	def(&cfg.StatusInterval, 10*time.Second)
	def(&cfg.ConfirmInterval, 50*time.Millisecond)
	def(&cfg.RetryMin, 100*time.Millisecond)
	def(&cfg.RetryMax, 5*time.Second)
	def(&cfg.SlotWait, time.Second)
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 5000
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Streamer{cfg: cfg, logger: logger}, nil
}

// State returns what the streamer is doing.
func (s *Streamer) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Confirmed returns the last position this streamer confirmed to PostgreSQL (0 before any).
func (s *Streamer) Confirmed() pglogrepl.LSN {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.confirmed
}

func (s *Streamer) setState(st State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = st
}

// Run streams the slot until ctx ends, then returns nil; it returns an error only when called
// while already running. After an error (connection lost, PostgreSQL restarted, Sink failed)
// it reconnects with backoff and resumes from the last confirmed position, so unconfirmed
// changes come again. While another process streams the slot it waits. A slot that is missing
// or was invalidated is recreated, with a log line saying why, and OnSlotLost is called.
func (s *Streamer) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("logical streamer: already running")
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.state = Stopped
		s.mu.Unlock()
	}()

	backoff := s.cfg.RetryMin
	waiting := false
	for {
		if !waiting {
			s.setState(Connecting) // while waiting for the slot, the state stays WaitingForSlot
		}
		streamed, err := s.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		switch {
		case errors.Is(err, errSlotBusy):
			s.setState(WaitingForSlot)
			if !waiting {
				s.logger.InfoContext(ctx, "logical capture: another process streams the replication slot; waiting for it", "slot", SlotName, "detail", err)
			}
			waiting = true
			wait = s.cfg.SlotWait
		default:
			waiting = false
			s.setState(Connecting)
			if streamed {
				backoff = s.cfg.RetryMin
			}
			wait = backoff + rand.N(backoff/2+1)
			backoff = min(2*backoff, s.cfg.RetryMax)
			s.logger.WarnContext(ctx, "logical capture: stream interrupted; reconnecting", "error", err, "retry_in", wait)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

var errSlotBusy = errors.New("replication slot in use")

const (
	// maxDrain bounds the reading at the end of a batch window when messages keep coming.
	maxDrain = 2 * time.Millisecond
	// drainPoll is how long a read at the end of a batch window waits for more before the
	// batch goes to the sink.
	drainPoll = 200 * time.Microsecond
)

// session connects, prepares the slot and streams until an error; streamed reports whether
// it got as far as streaming.
func (s *Streamer) session(ctx context.Context) (streamed bool, err error) {
	tables, start, err := s.prepare(ctx)
	if err != nil {
		return false, err
	}
	cfg, err := pgconn.ParseConfig(s.cfg.ConnString)
	if err != nil {
		return false, err
	}
	cfg.RuntimeParams["replication"] = "database"
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "cachewarm"
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("replication connection: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	err = pglogrepl.StartReplication(ctx, conn, SlotName, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + PublicationName + "'"},
	})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55006" { // object_in_use: "replication slot ... is active for PID ..."
			return false, fmt.Errorf("%w: %s", errSlotBusy, pgErr.Message)
		}
		return false, fmt.Errorf("start replication: %w", err)
	}
	s.setState(Streaming)
	return true, s.stream(ctx, conn, tables, start)
}

// prepare checks the slot (recreating a lost one and calling OnSlotLost) and resolves the
// captured tables, on an ordinary connection. It returns the tables by oid and the slot's
// confirmed position.
func (s *Streamer) prepare(ctx context.Context) (map[uint32]Table, pglogrepl.LSN, error) {
	conn, err := pgx.Connect(ctx, s.cfg.ConnString)
	if err != nil {
		return nil, 0, fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()

	var allTables, ins, upd, del, trunc, viaRoot bool
	err = conn.QueryRow(ctx, query("publication"), PublicationName).Scan(&allTables, &ins, &upd, &del, &trunc, &viaRoot)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, fmt.Errorf("no publication %s in this database: run cachewarm migrate", PublicationName)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read publication %s: %w", PublicationName, err)
	}
	slot, err := Inspect(ctx, conn)
	if err != nil {
		return nil, 0, err
	}
	if slot.Lost() {
		if err := s.recreateSlot(ctx, conn, slot); err != nil {
			return nil, 0, err
		}
		if slot, err = Inspect(ctx, conn); err != nil {
			return nil, 0, err
		}
	}
	if !slot.Exists {
		return nil, 0, fmt.Errorf("replication slot %s vanished after its creation", SlotName)
	}
	if slot.Active {
		return nil, 0, fmt.Errorf("%w: active for PID %d", errSlotBusy, slot.ActivePID)
	}
	s.mu.Lock()
	due := s.slotLostDue
	s.mu.Unlock()
	if due && s.cfg.OnSlotLost != nil {
		if err := s.cfg.OnSlotLost(ctx); err != nil {
			return nil, 0, fmt.Errorf("on slot lost: %w", err)
		}
	}
	s.mu.Lock()
	s.slotLostDue = false
	s.mu.Unlock()

	start, err := pglogrepl.ParseLSN(slot.ConfirmedLSN)
	if err != nil {
		return nil, 0, fmt.Errorf("slot %s confirmed_flush_lsn %q: %w", SlotName, slot.ConfirmedLSN, err)
	}
	names := make([]string, len(s.cfg.Tables))
	byName := map[string]Table{}
	for i, t := range s.cfg.Tables {
		names[i] = t.Name
		byName[t.Name] = t
	}
	rows, err := conn.Query(ctx, query("resolve_tables"), names)
	if err != nil {
		return nil, 0, fmt.Errorf("resolve captured tables: %w", err)
	}
	tables := map[uint32]Table{}
	for rows.Next() {
		var name string
		var oid *int64
		if err := rows.Scan(&name, &oid); err != nil {
			return nil, 0, fmt.Errorf("resolve captured tables: %w", err)
		}
		if oid == nil {
			s.logger.WarnContext(ctx, "logical capture: a captured table does not exist; ignoring it", "table", name)
			continue
		}
		tables[uint32(*oid)] = byName[name]
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("resolve captured tables: %w", err)
	}
	return tables, start, nil
}

// recreateSlot drops an invalidated slot and creates it again; OnSlotLost is then due.
func (s *Streamer) recreateSlot(ctx context.Context, conn *pgx.Conn, slot SlotInfo) error {
	why := "it does not exist (dropped)"
	if slot.Exists {
		why = "PostgreSQL invalidated it (wal_status lost: it held more WAL than max_slot_wal_keep_size allows)"
		if _, err := conn.Exec(ctx, query("drop_slot"), SlotName); err != nil {
			return fmt.Errorf("drop invalidated replication slot %s: %w", SlotName, err)
		}
	}
	lsn, err := createSlot(ctx, conn)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.slotLostDue = true
	s.mu.Unlock()
	s.logger.WarnContext(ctx, "logical capture: replication slot lost and recreated; changes made before were missed, so everything is re-warmed",
		"slot", SlotName, "why", why, "new_slot_lsn", lsn)
	return nil
}

// stream reads the replication stream, hands committed changes to the Sink in batches and
// confirms what the Sink took.
func (s *Streamer) stream(ctx context.Context, conn *pgconn.PgConn, tables map[uint32]Table, start pglogrepl.LSN) error {
	dec := newDecoder(tables, s.logger)
	confirmed := start // never report less than the slot's position: PostgreSQL 15 would move it back
	s.mu.Lock()
	s.confirmed = max(s.confirmed, confirmed)
	s.mu.Unlock()

	var (
		batch      changeSet
		batchEnd   pglogrepl.LSN // end of the last commit in the batch; 0 when no commit is pending
		flushAt    time.Time     // end of the batch window
		draining   bool          // the window is over: reading what has arrived, then flushing
		drainUntil time.Time
		drained    bool      // a read found nothing more to read
		lastCommit time.Time // when the last commit was read
		nextStatus = time.Now().Add(s.cfg.StatusInterval)
		lastStatus time.Time
		reported   = confirmed // the position PostgreSQL was last told
	)
	sendStatus := func(reply bool) error {
		err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: confirmed, ReplyRequested: reply})
		if err != nil {
			return fmt.Errorf("send standby status: %w", err)
		}
		lastStatus, reported = time.Now(), confirmed
		nextStatus = lastStatus.Add(s.cfg.StatusInterval)
		return nil
	}
	// A confirmation held back by ConfirmInterval is still sent when streaming stops, so that the
	// next streamer does not get those changes again; if it is lost, they come again.
	defer func() {
		if confirmed > reported && !conn.IsClosed() {
			_ = pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{WALWritePosition: confirmed})
		}
	}()
	// confirm records that everything up to lsn is safe and tells PostgreSQL, at most once
	// per ConfirmInterval: under load a status update per batch would cost more than it frees.
	confirm := func(lsn pglogrepl.LSN) error {
		if lsn <= confirmed {
			return nil
		}
		confirmed = lsn
		s.mu.Lock()
		s.confirmed = max(s.confirmed, lsn)
		s.mu.Unlock()
		if due := lastStatus.Add(s.cfg.ConfirmInterval); time.Now().Before(due) {
			if due.Before(nextStatus) {
				nextStatus = due
			}
			return nil
		}
		return sendStatus(false)
	}
	flush := func() error {
		if len(batch.list) > 0 {
			if err := s.cfg.Sink(ctx, batch.list); err != nil {
				return fmt.Errorf("sink: %w", err)
			}
		}
		end := batchEnd
		batch.reset()
		batchEnd, flushAt, draining, drained = 0, time.Time{}, false, false
		return confirm(end)
	}

	// Reads are bounded by deadlines on the socket rather than by a context per message (a
	// timer and a watcher each): the end of ctx sets a deadline in the past.
	netConn := conn.Conn()
	stopWatch := context.AfterFunc(ctx, func() { _ = netConn.SetReadDeadline(time.Now()) })
	defer stopWatch()
	var sleep *time.Timer
	defer func() {
		if sleep != nil {
			sleep.Stop()
		}
	}()

	for {
		now := time.Now()
		if batchEnd != 0 {
			if !draining && !now.Before(flushAt) {
				draining, drainUntil = true, now.Add(maxDrain)
			}
			if (draining && (drained || !now.Before(drainUntil))) || len(batch.list) >= s.cfg.MaxBatch {
				if err := flush(); err != nil {
					return err
				}
				now = time.Now()
			}
		}
		if !now.Before(nextStatus) {
			if err := sendStatus(false); err != nil {
				return err
			}
		}
		var deadline time.Time
		switch {
		case batchEnd == 0:
			deadline = nextStatus
		case draining:
			deadline = now.Add(drainPoll)
		default:
			// A commit is pending: let the window's transactions gather in the socket and
			// read them in a burst at its end, rather than waking for every message (the
			// WAL sender writes each message on its own).
			if sleep == nil {
				sleep = time.NewTimer(flushAt.Sub(now))
			} else {
				sleep.Reset(flushAt.Sub(now))
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-sleep.C:
			}
			continue
		}
		if err := netConn.SetReadDeadline(deadline); err != nil {
			return fmt.Errorf("set read deadline: %w", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg, err := conn.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if pgconn.Timeout(err) {
				drained = draining
				continue
			}
			return fmt.Errorf("receive: %w", err)
		}
		switch msg := msg.(type) {
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication stream: %w", pgconn.ErrorResponseToPgError(msg))
		case *pgproto3.CopyData:
			if len(msg.Data) == 0 {
				continue
			}
			switch msg.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("keepalive: %w", err)
				}
				// Every transaction that committed before ServerWALEnd was sent before this
				// keepalive; with none open or pending, that position is done (skipped WAL:
				// other tables, cachewarm's own writes).
				if !dec.inTxn && batchEnd == 0 && ka.ServerWALEnd > confirmed {
					if err := confirm(ka.ServerWALEnd); err != nil {
						return err
					}
				}
				if ka.ReplyRequested {
					if err := sendStatus(false); err != nil {
						return err
					}
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(msg.Data[1:])
				if err != nil {
					return fmt.Errorf("xlog data: %w", err)
				}
				commit, err := dec.decode(xld.WALData)
				if err != nil {
					return err
				}
				if commit == nil {
					continue
				}
				for _, c := range dec.txn.list {
					batch.add(c)
				}
				dec.txn.reset()
				batchEnd = commit.TransactionEndLSN
				now := time.Now()
				if flushAt.IsZero() {
					// Gather a window's transactions only when commits come more often than
					// one a window: fewer sink calls would not save anything otherwise, and a
					// change after a quiet spell goes to the sink at once.
					flushAt = now
					if now.Sub(lastCommit) < s.cfg.BatchWindow {
						flushAt = now.Add(s.cfg.BatchWindow)
					}
				}
				lastCommit = now
			}
		}
	}
}
