package webhook

import (
	"log"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// ServerOptions are the receiver's connection limits. The zero value gives
// the defaults below.
type ServerOptions struct {
	// ReadHeaderTimeout bounds the request line and headers: a slowloris
	// client trickling headers is cut off here. Default 5s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds the whole request, body included; 60s reads a 25 MiB
	// GitHub payload at 3.5 Mbit/s. Default 60s.
	ReadTimeout time.Duration
	// WriteTimeout bounds the answer, counted (by net/http) from the end of
	// the headers, so it covers the body's read and the group commit too.
	// Default ReadTimeout plus the longest wait for the store plus 10s:
	// with 60s, a slow but legitimate 25 MiB body followed by a slow commit
	// had its answer cut off (found in review).
	WriteTimeout time.Duration
	// IdleTimeout closes kept-alive connections that send nothing. Default 60s.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the headers. Default 64 KiB.
	MaxHeaderBytes int
	// ErrorLog receives the server's own errors (TLS, accept).
	ErrorLog *log.Logger
}

// NewServer returns an http.Server for h on addr with timeouts against slow
// clients that still leave room for a normal 25 MiB delivery.
func NewServer(addr string, h http.Handler, o ServerOptions) *http.Server {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReadHeaderTimeout, 5*time.Second)
	def(&o.ReadTimeout, 60*time.Second)
	def(&o.WriteTimeout, o.ReadTimeout+enqueueWait+10*time.Second)
	def(&o.IdleTimeout, 60*time.Second)
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
		ErrorLog:          o.ErrorLog,
	}
}

// Listen listens on addr and serves at most maxConns connections at once:
// further connections wait in the kernel's listen queue until one closes
// (netutil.LimitListener). With the body limit this bounds the memory of
// bodies being read, which a signature can only be checked after.
func Listen(addr string, maxConns int) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return netutil.LimitListener(ln, maxConns), nil
}
