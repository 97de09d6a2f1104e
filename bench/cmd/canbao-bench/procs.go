package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// runCanbao runs a canbao command to its end with the bench configuration and returns its
// combined output.
func (e *env) runCanbao(ctx context.Context, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, e.canbao, args...)
	cmd.Env = e.childEnv()
	cmd.Dir = e.workDir
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// child is a long-running process the bench started and must stop.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	logf *os.File
}

var (
	childrenMu sync.Mutex
	children   = map[*child]bool{}
)

// startChild starts a process; stderr goes to logPath ("" or /dev/null: discarded). When ready
// is not empty, startChild waits for that line on stdout.
func startChild(ctx context.Context, name, path string, args, environ []string, dir, logPath, ready string) (*child, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = environ
	cmd.Dir = dir
	if logPath == "" {
		logPath = os.DevNull
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), logf: logf}
	childrenMu.Lock()
	children[c] = true
	childrenMu.Unlock()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		c.err = cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	if ready == "" {
		return c, nil
	}
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l := <-lines:
			if strings.Contains(l, ready) {
				return c, nil
			}
		case <-c.done:
			return nil, fmt.Errorf("%s exited before it was ready: %v (log: %s)", name, c.err, logPath)
		case <-deadline:
			c.stop()
			return nil, fmt.Errorf("%s not ready after 60 s (log: %s)", name, logPath)
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		}
	}
}

// pid is the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// stop sends SIGTERM, waits up to 30 s, then kills.
func (c *child) stop() {
	if c == nil {
		return
	}
	childrenMu.Lock()
	delete(children, c)
	childrenMu.Unlock()
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// stopAll stops every child still running (cleanup after an error or a signal).
func stopAll() {
	childrenMu.Lock()
	var list []*child
	for c := range children {
		list = append(list, c)
	}
	childrenMu.Unlock()
	for _, c := range list {
		c.stop()
	}
}

// freeAddr returns a free 127.0.0.1 port.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", loopback+":0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, c *child, url string) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("%s exited: %v", c.name, c.err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New(c.name + " did not answer " + url)
}

// startAPI starts `canbao serve --no-engine` and waits until it is ready.
func (e *env) startAPI(ctx context.Context) (*child, error) {
	c, err := startChild(ctx, "canbao serve --no-engine", e.canbao, []string{"serve", "--no-engine"}, e.childEnv(), e.workDir,
		e.workDir+"/serve.log", "")
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, c, "http://"+e.apiAddr+"/readyz"); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// startEngine starts `canbao serve --engine-only`, its log going to /dev/null (the log channel
// writes every message there), unless engineLog names a file.
func (e *env) startEngine(ctx context.Context, engineLog string) (*child, error) {
	return startChild(ctx, "canbao serve --engine-only", e.canbao, []string{"serve", "--engine-only"}, e.childEnv(), e.workDir,
		engineLog, "canbao engine running")
}

// startBare starts this binary's bare baseline server of kind with args.
func (e *env) startBare(ctx context.Context, kind string, args ...string) (*child, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	all := append([]string{"bare", "-kind", kind, "-addr", addr}, args...)
	c, err := startChild(ctx, "bare "+kind, e.self, all, os.Environ(), e.workDir, e.workDir+"/bare-"+kind+".log", "bare server ready")
	if err != nil {
		return nil, "", err
	}
	return c, "http://" + addr, nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
