// A libvirt client that is not libvirt's: go-libvirt (Debian's
// golang-github-digitalocean-go-libvirt-dev), the pure-Go implementation of the
// wire protocol that Terraform's libvirt provider is built on. It encodes some
// XDR differently from libvirt's C library (its CONNECT_OPEN sends the optional
// name's presence word as the bytes 01 00 00 00), so it shows that the daemon
// decodes as liberally as libvirtd.
//
// Usage: golibvirt-client SOCKET URI DOMAIN.xml
// Prints one JSON object per step on stdout; exits 1 at the first unexpected error.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

func emit(step string, fields map[string]interface{}) {
	fields["step"] = step
	b, _ := json.Marshal(fields)
	fmt.Println(string(b))
}

func fail(step string, err error) {
	emit(step, map[string]interface{}{"error": err.Error()})
	os.Exit(1)
}

// libvirtErr reports an expected libvirt error with its code.
func libvirtErr(step string, err error) {
	e, ok := err.(libvirt.Error)
	if !ok {
		fail(step, fmt.Errorf("expected a libvirt error, got %v", err))
	}
	emit(step, map[string]interface{}{"code": e.Code, "message": e.Message})
}

func names(l *libvirt.Libvirt, step string) {
	doms, _, err := l.ConnectListAllDomains(1, 0)
	if err != nil {
		fail(step, err)
	}
	list := []string{}
	for _, d := range doms {
		list = append(list, d.Name)
	}
	emit(step, map[string]interface{}{"names": list})
}

func state(l *libvirt.Libvirt, d libvirt.Domain, step string) {
	s, r, err := l.DomainGetState(d, 0)
	if err != nil {
		fail(step, err)
	}
	emit(step, map[string]interface{}{"state": []int32{s, r}})
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: golibvirt-client SOCKET URI DOMAIN.xml")
		os.Exit(2)
	}
	xml, err := os.ReadFile(os.Args[3])
	if err != nil {
		fail("read", err)
	}
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(os.Args[1]), dialers.WithLocalTimeout(5*time.Second)))
	if err := l.ConnectToURI(libvirt.ConnectURI(os.Args[2])); err != nil {
		fail("open", err)
	}
	typ, err := l.ConnectGetType()
	if err != nil {
		fail("open", err)
	}
	ver, err := l.ConnectGetLibVersion()
	if err != nil {
		fail("open", err)
	}
	emit("open", map[string]interface{}{"type": typ, "libversion": ver})

	ctx, cancel := context.WithCancel(context.Background())
	events, err := l.LifecycleEvents(ctx)
	if err != nil {
		fail("events", err)
	}
	names(l, "list-before")

	d, err := l.DomainDefineXML(string(xml))
	if err != nil {
		fail("define", err)
	}
	emit("define", map[string]interface{}{"name": d.Name, "id": d.ID})
	names(l, "list-defined")
	if err := l.DomainCreate(d); err != nil {
		fail("create", err)
	}
	state(l, d, "create")
	if err := l.DomainDestroy(d); err != nil {
		fail("destroy", err)
	}
	state(l, d, "destroy")
	libvirtErr("destroy-again", l.DomainDestroy(d))
	if err := l.DomainUndefine(d); err != nil {
		fail("undefine", err)
	}
	_, err = l.DomainLookupByName(d.Name)
	libvirtErr("lookup-gone", err)

	// defined, started, (resumed), stopped, undefined: wait for the undefine event
	got := [][]interface{}{}
	deadline := time.After(10 * time.Second)
wait:
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				break wait
			}
			got = append(got, []interface{}{ev.Dom.Name, ev.Event, ev.Detail})
			if ev.Event == int32(libvirt.DomainEventUndefined) {
				break wait
			}
		case <-deadline:
			break wait
		}
	}
	emit("events", map[string]interface{}{"events": got})
	cancel()
	if err := l.Disconnect(); err != nil {
		fail("close", err)
	}
	emit("done", map[string]interface{}{})
}
