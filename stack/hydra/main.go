// Ory Hydra's command line (the same as its own main package), built from the module pinned in go.mod: Hydra's
// go.mod replaces modules by paths inside its repository, which `go install MODULE@VERSION` refuses, so
// `farmacy up` builds this module instead (stack/install.py).
package main

import "github.com/ory/hydra/v2/cmd"

func main() { cmd.Execute() }
