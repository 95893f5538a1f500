// Package crashproof proves the guarantee of DESIGN §1 on servers that are
// not databases. It holds tests only.
package crashproof
