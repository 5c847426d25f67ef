package pgjson

// AppendISO exposes appendISO to the tests.
var AppendISO = appendISO
