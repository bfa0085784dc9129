// Package embedded holds the datasets compiled into the bench binary: a
// stratified subset of Fashion-MNIST (10,000 train = 1,000 per class, 2,000
// test = 200 per class) and of MNIST (5,000 train, 1,000 test), as gzipped IDX
// files. They are produced reproducibly by `go run ./data/embedded/gen` from
// the local copies of the full datasets (see docs/data.md for sources and
// licences: Fashion-MNIST is MIT, Zalando SE; MNIST is CC BY-SA 3.0, LeCun,
// Cortes, Burges).
package embedded

import "embed"

//go:generate go run ./gen -out .

// FS holds fashion-mnist/*.gz and mnist/*.gz, each the four IDX files
// train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
// t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.
//
//go:embed fashion-mnist/*.gz mnist/*.gz
var FS embed.FS
