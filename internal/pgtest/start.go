package pgtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// start runs a PostgreSQL server from the installed binaries in a new
// temporary directory, with a watchdog that stops it and removes the
// directory once this process has exited.
func start() (string, error) {
	bin, err := binDir()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "mcp-sync-pgtest-")
	if err != nil {
		return "", err
	}
	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	// initdb refuses to run as root: run the server as postgres then.
	var asUser []string
	if os.Geteuid() == 0 {
		if err := exec.Command("chown", "postgres", dir).Run(); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("running as root, and the postgres user cannot own %s: %w", dir, err)
		}
		asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	data := filepath.Join(dir, "data")
	run := func(args ...string) error {
		full := append(append([]string{}, asUser...), args...)
		out, err := exec.Command(full[0], full[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", filepath.Base(args[0]), err, out)
		}
		return nil
	}
	if err := run(filepath.Join(bin, "initdb"), "-D", data, "--auth=trust", "-U", "postgres"); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", port, dir)
	if err := run(filepath.Join(bin, "pg_ctl"), "-D", data, "-o", opts, "-w", "-l", filepath.Join(dir, "log"), "start"); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	stop := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 1; done; %s %s -D %s -m immediate stop; rm -rf %s",
		os.Getpid(), shellJoin(asUser), filepath.Join(bin, "pg_ctl"), data, dir)
	watchdog := exec.Command("sh", "-c", stop)
	if err := watchdog.Start(); err != nil {
		_ = run(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop")
		os.RemoveAll(dir)
		return "", err
	}
	go func() { _ = watchdog.Wait() }()
	dsn := "postgres://postgres@127.0.0.1:" + strconv.Itoa(port) + "/postgres?sslmode=disable"
	for range 50 {
		if ping(dsn) == nil {
			return dsn, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", errors.New("the started server does not answer")
}

// binDir finds initdb and pg_ctl: on the PATH, else in Debian's
// /usr/lib/postgresql/VERSION/bin.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("pg_ctl"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i], nil
		}
	}
	return "", errors.New("no initdb and pg_ctl installed")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func shellJoin(args []string) string {
	out := ""
	for _, a := range args {
		out += a + " "
	}
	return out
}
