// Logistic regression with FuncDiff from C#: build the loss, differentiate it, and check the
// derivatives two independent ways (a hand-derived formula and central finite differences) before
// trusting them to train. Exits with 1 if any check fails, so CI can run it.
using FuncDiff;

const int n = 64, d = 3;
var failures = 0;

void Check(string what, double actual, double expected, double tolerance)
{
    var ok = Math.Abs(actual - expected) <= tolerance * (1 + Math.Abs(expected));
    if (!ok) failures++;
    Console.WriteLine($"  {(ok ? "ok  " : "FAIL")} {what}: {actual:G10} vs {expected:G10}");
}

// ---- Data: labels from a known linear rule plus noise -------------------------------------------

var features = Tensor.RandomNormal(seed: 1, n, d);
var noise = Tensor.RandomNormal(seed: 2, n).ToDoubleArray();
double[] trueW = [1.5, -2.0, 0.5];
const double trueB = 0.25;
var rows = features.ToArray2D<double>();
var labelData = new double[n];
for (var i = 0; i < n; i++)
{
    var score = trueB + 0.3 * noise[i];
    for (var j = 0; j < d; j++) score += rows[i, j] * trueW[j];
    labelData[i] = score > 0 ? 1 : 0;
}
var labels = Tensor.FromArray(labelData);

// ---- Model: mean binary cross-entropy, log(1 + eᶻ) - y·z written stably with Softplus ----------

var x = Expr.Input("x", n, d);
var y = Expr.Input("y", n);
var w = Expr.Input("w", d);
var b = Expr.Input("b");
var z = x.MatMul(w) + b;
var loss = (z.Softplus() - y * z).Mean();
var (gradW, gradB) = loss.Grad(w, b);
var hessian = loss.Hessian(w)[w];
// A comparison is an expression, so accuracy is one too (if (z > 0) would not compile).
var accuracy = (z > 0).Cast(DType.Float64).Eq(y).Cast(DType.Float64).Mean();

Console.WriteLine($"loss = {loss}");

var inputs = new Dictionary<string, Tensor>
{
    ["x"] = features,
    ["y"] = labels,
    ["w"] = Tensor.FromArray([0.1, -0.2, 0.3]),
    ["b"] = Tensor.Scalar(0.05),
};

// ---- Check 1: against the hand-derived gradient and Hessian --------------------------------------
// With p = σ(z): ∂L/∂w = Xᵀ(p - y)/n, ∂L/∂b = mean(p - y), ∂²L/∂w² = Xᵀ diag(p(1-p)) X / n.

var values = Expr.EvalMany([loss, gradW, gradB, hessian], inputs);
var w0 = inputs["w"].ToDoubleArray();
var b0 = inputs["b"].ToScalar();
var handW = new double[d];
var handB = 0.0;
var handH = new double[d, d];
for (var i = 0; i < n; i++)
{
    var zi = b0;
    for (var j = 0; j < d; j++) zi += rows[i, j] * w0[j];
    var p = 1 / (1 + Math.Exp(-zi));
    handB += (p - labelData[i]) / n;
    for (var j = 0; j < d; j++)
    {
        handW[j] += rows[i, j] * (p - labelData[i]) / n;
        for (var k = 0; k < d; k++) handH[j, k] += rows[i, j] * p * (1 - p) * rows[i, k] / n;
    }
}

Console.WriteLine("against the hand-derived formulas:");
var gw = values[1].ToArray<double>();
for (var j = 0; j < d; j++) Check($"dL/dw[{j}]", gw[j], handW[j], 1e-12);
Check("dL/db", values[2].ToScalar(), handB, 1e-12);
var h = values[3].ToArray2D<double>();
for (var j = 0; j < d; j++)
    for (var k = 0; k < d; k++)
        Check($"d2L/dw[{j}]dw[{k}]", h[j, k], handH[j, k], 1e-12);

// ---- Check 2: against central finite differences of the loss itself, with the library's checker -----

var report = GradCheck.Check(loss, inputs, [w, b], new GradCheckOptions { Sample = null });
Console.WriteLine("against central finite differences:");
Console.WriteLine(report);
if (!report.Ok) failures++;

// ---- Train: gradient descent with the checked gradient -------------------------------------------

// The step is compiled once, with the updated weights among its outputs: each run's new weights are bound
// back as the next run's inputs (the workspace copies them before it overwrites them), so after the first
// run a step allocates nothing at all.
const double rate = 0.5;
var step = Expr.Compile([w - rate * gradW, b - rate * gradB]);
var workspace = step.CreateWorkspace().Bind("x", features).Bind("y", labels).Bind("w", inputs["w"]).Bind("b", inputs["b"]);
var before = values[0].ToScalar();
var next = step.Run(workspace);
long allocated = 0;
for (var epoch = 1; epoch < 300; epoch++)
{
    // The first steps set up the workspace (the copies of bound-back results among them); count the rest.
    var start = GC.GetAllocatedBytesForCurrentThread();
    next = step.Run(workspace.Bind("w", next[0]).Bind("b", next[1]));
    if (epoch >= 5) allocated += GC.GetAllocatedBytesForCurrentThread() - start;
}
// The results are the workspace's, overwritten by a next run: keep copies.
var wt = next[0].Copy();
var bt = next[1].Copy();
Console.WriteLine($"295 training steps (after 4 that set up the workspace) allocated {allocated} bytes");
if (allocated != 0) { failures++; Console.WriteLine("  FAIL a compiled step allocated"); }
var after = Expr.EvalMany([loss, accuracy], ("x", features), ("y", labels), ("w", wt), ("b", bt));
Console.WriteLine($"training: loss {before:F4} -> {after[0].ToScalar():F4}, accuracy {after[1].ToScalar():P0}, w = {wt}, b = {bt.ToScalar():F3}");
if (!(after[0].ToScalar() < before)) { failures++; Console.WriteLine("  FAIL the loss did not decrease"); }
if (!(after[1].ToScalar() >= 0.85)) { failures++; Console.WriteLine("  FAIL accuracy below 85%"); }

// The weights point the way of the rule that made the labels.
var learned = wt.ToDoubleArray();
var cosine = learned.Zip(trueW, (a, c) => a * c).Sum() / Math.Sqrt(learned.Sum(a => a * a) * trueW.Sum(c => c * c));
Check("cosine(learned w, true w) is near 1", cosine, 1.0, 0.05);

Console.WriteLine(failures == 0 ? "all checks passed" : $"{failures} check(s) failed");
return failures == 0 ? 0 : 1;
