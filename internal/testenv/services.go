package testenv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// services resolves each service once per test binary.
var services serviceSet

type serviceSet struct {
	pgOnce, redisOnce sync.Once
	pgURL, redisURL   string
	pgErr, redisErr   error
}

func (s *serviceSet) postgres() (string, error) {
	s.pgOnce.Do(func() {
		s.pgURL, s.pgErr = resolve("TEST_DATABASE_URL", defaultDatabaseURL, pingPostgres, startPostgresContainer, startPostgres)
	})
	return s.pgURL, s.pgErr
}

func (s *serviceSet) redis() (string, error) {
	s.redisOnce.Do(func() {
		s.redisURL, s.redisErr = resolve("TEST_REDIS_URL", defaultRedisURL, pingRedis, startRedisContainer, startRedis)
	})
	return s.redisURL, s.redisErr
}

// resolve returns the variable's URL if set (it must answer), else the default if it answers,
// else a container where Docker runs.
func resolve(env, def string, ping func(context.Context, string) error, container func(context.Context) (string, error), howToStart string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if u := os.Getenv(env); u != "" {
		if err := ping(ctx, u); err != nil {
			return "", fmt.Errorf("%s does not answer: %v; %s", env, err, howToStart)
		}
		return u, nil
	}
	pingErr := ping(ctx, def)
	if pingErr == nil {
		return def, nil
	}
	if !dockerAvailable() {
		return "", fmt.Errorf("no service at %s (%v), %s unset, and no Docker engine to start one; %s", def, pingErr, env, howToStart)
	}
	u, err := container(ctx)
	if err != nil {
		return "", fmt.Errorf("no service at %s (%v), and starting a container failed: %v; %s", def, pingErr, err, howToStart)
	}
	return u, nil
}

func pingPostgres(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}

func pingRedis(ctx context.Context, u string) error {
	opts, err := redis.ParseURL(u)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return rdb.Ping(ctx).Err()
}

func dockerAvailable() bool {
	if os.Getenv("DOCKER_HOST") != "" {
		return true
	}
	_, err := os.Stat("/var/run/docker.sock")
	return err == nil
}

// The containers live as long as the test binary; testcontainers' reaper removes them after.
func startPostgresContainer(ctx context.Context) (string, error) {
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        "postgres:15",
			Env:          map[string]string{"POSTGRES_HOST_AUTH_METHOD": "trust"},
			ExposedPorts: []string{"5432/tcp"},
			WaitingFor:   wait.ForLog("database system is ready to accept connections").WithOccurrence(2),
		},
		Started: true,
	})
	if err != nil {
		return "", err
	}
	ep, err := c.PortEndpoint(ctx, "5432/tcp", "")
	if err != nil {
		return "", err
	}
	return "postgres://postgres@" + ep + "/postgres?sslmode=disable", nil
}

func startRedisContainer(ctx context.Context) (string, error) {
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        "redis:7",
			ExposedPorts: []string{"6379/tcp"},
			WaitingFor:   wait.ForLog("Ready to accept connections"),
		},
		Started: true,
	})
	if err != nil {
		return "", err
	}
	ep, err := c.PortEndpoint(ctx, "6379/tcp", "")
	if err != nil {
		return "", err
	}
	return "redis://" + ep + "/0", nil
}
