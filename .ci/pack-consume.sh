#!/usr/bin/env bash
# Proves the NuGet package works for a project that never saw this repository: packs TltTrainer into a
# temporary local feed, writes a throwaway console app outside the repository that references the packed
# TltTrainer and TorchSharp-cpu (the consumer picks the backend), builds it, checks that the package's
# buildTransitive targets fixed the TorchSharp native loader where the host needs it, runs two RL steps
# on the embedded task and checks the app's last line. Exits 0 only if all of that holds.
#
# The package is packed under a unique prerelease version so that the NuGet global packages folder
# never serves a stale copy from an earlier run; that one version folder is removed again on exit.
# The embedded target is read from its cache (TLT_CACHE_DIR or ~/.cache/tlttrainer) and trained
# there when absent (a few minutes), so run this after the test suite, which fills the cache.
# TLT_CONSUME_TIMEOUT (seconds, default 1800) bounds the consumer run.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
torch_version=0.107.0
glibcxx=GLIBCXX_3.4.32

work="$(mktemp -d "${TMPDIR:-/tmp}/tlt-pack-consume.XXXXXX")"
global_packages="$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: *//p')"
version=""
cleanup() {
  rm -rf "$work"
  if [ -n "$version" ] && [ -n "$global_packages" ]; then
    rm -rf "${global_packages%/}/tlttrainer/$version"
    rmdir "${global_packages%/}/tlttrainer" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'echo "pack-consume: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

fail() { echo "pack-consume: FAILED: $*" >&2; exit 1; }
say() { echo "pack-consume: $*"; }

# 1. Pack the library into a local folder feed (its bin/obj under the temp folder: the repo's build stays as it is).
base_version="$(dotnet msbuild "$repo/src/TltTrainer/TltTrainer.csproj" -getProperty:Version)"
version="$base_version-consume.$(date +%Y%m%d%H%M%S).$$"
feed="$work/feed"
say "packing TltTrainer $version into $feed"
dotnet pack "$repo/src/TltTrainer/TltTrainer.csproj" -c Release -o "$feed" -p:Version="$version" \
  --artifacts-path "$work/artifacts" --tl:off -v:q -nologo \
  || fail "dotnet pack failed"
nupkg="$feed/TltTrainer.$version.nupkg"
[ -f "$nupkg" ] || fail "no $nupkg"
[ -f "$feed/TltTrainer.$version.snupkg" ] || fail "no symbol package next to $nupkg"
contents="$(unzip -Z1 "$nupkg")"
for entry in lib/net10.0/TltTrainer.dll lib/net10.0/TltTrainer.xml README.md buildTransitive/TltTrainer.targets build/TltTrainer.targets; do
  grep -qx "$entry" <<<"$contents" || fail "$entry missing from the package"
done
nuspec="$(unzip -p "$nupkg" TltTrainer.nuspec)"
grep -q '<dependency id="TorchSharp" ' <<<"$nuspec" || fail "the package does not depend on the managed TorchSharp"
if grep -Eiq '<dependency id="(TorchSharp-c[a-z-]*|libtorch-[a-z0-9-]*)"' <<<"$nuspec"; then
  fail "the package forces a native libtorch backend on its consumers"
fi

# 2. A consumer outside the repository; empty Directory.* files stop MSBuild from looking further up.
app="$work/consumer"
mkdir -p "$app"
echo '<Project />' >"$work/Directory.Build.props"
echo '<Project />' >"$work/Directory.Build.targets"
cat >"$work/Directory.Packages.props" <<'EOF'
<Project>
  <PropertyGroup>
    <ManagePackageVersionsCentrally>false</ManagePackageVersionsCentrally>
  </PropertyGroup>
</Project>
EOF
# The local feed is added to the machine's own sources (user-level NuGet.Config), not in place of them.
cat >"$work/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="tlt-local-feed" value="$feed" />
  </packageSources>
</configuration>
EOF
cat >"$app/Consumer.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="TltTrainer" Version="$version" />
    <PackageReference Include="TorchSharp-cpu" Version="$torch_version" />
  </ItemGroup>
</Project>
EOF
cat >"$app/Program.cs" <<'EOF'
// Two RL steps on the embedded task through TltTrainer's public API, as a package consumer writes them.
using TltTrainer.Rl;
using TltTrainer.Rollout;
using TltTrainer.Sampling;
using TltTrainer.Speculative;
using TltTrainer.Tasks;

try
{
    using var target = EmbeddedTarget.LoadOrTrain();   // cached, or trained once (a few minutes)
    Console.WriteLine(target.FromCache ? $"embedded target loaded from {target.CachePath}" : $"embedded target trained and cached at {target.CachePath}");
    var policy = target.Model;                           // trained in place
    var tokenizer = ChainArithmeticTextTokenizer.Instance;
    var stop = new HashSet<int> { tokenizer.EosId!.Value };
    using var drafter = new NGramDrafter();
    var engine = new RolloutEngine(policy, new RolloutEngineOptions { Drafter = drafter, MaxSequenceLength = 256 });
    var task = new ChainArithmeticTask(new ChainArithmeticOptions { Seed = 1, MaxTerms = 4 });
    var prompts = task.Sample(64).Select(e => new PromptExample(e.Prompt, e.Answer)).ToList();
    using var trainer = new RlTrainer(policy, tokenizer, engine,
        new RewardComposer(new[] { new WeightedReward(new ExactAnswerReward(ChainArithmeticTask.ExtractAnswer)) }),
        new PromptSampler(prompts, seed: 1), new RlTrainerOptions
        {
            PromptsPerStep = 4, GroupSize = 4, LearningRate = 1e-5, Seed = 1,
            Sampling = new SamplingOptions { Temperature = 1.0, MaxNewTokens = 96, StopTokens = stop },
        });
    var rewards = new List<double>();
    for (int s = 0; s < 2; s++)
    {
        var m = trainer.RunStep();
        Console.WriteLine($"step {m.Step}: reward {m.RewardMean:F3}, loss {m.Loss:F4}, accept {m.AcceptLength:F2}, {m.StepSeconds:F2}s");
        if (!double.IsFinite(m.RewardMean) || !double.IsFinite(m.Loss)) throw new InvalidOperationException($"step {m.Step} is not finite");
        rewards.Add(m.RewardMean);
    }
    Console.WriteLine($"consumer ok: {rewards.Count} steps, reward {string.Join(" -> ", rewards.Select(r => r.ToString("F3")))}");
    return 0;
}
catch (Exception e)
{
    Console.Error.WriteLine($"consumer failed: {e}");
    return 1;
}
EOF

# 3. Build: restore from the feed, and the package's targets patch the native library where needed.
build_log="$work/build.log"
say "building the consumer (TltTrainer $version + TorchSharp-cpu $torch_version)"
if ! (cd "$app" && dotnet build -c Release --tl:off -nologo) >"$build_log" 2>&1; then
  cat "$build_log"; fail "the consumer did not build"
fi
# The fix must come from the package, not from anything of this repository's.
grep -q "tlttrainer/$version/buildTransitive/TltTrainer.targets" "$app/obj/Consumer.csproj.nuget.g.targets" \
  || fail "the restore did not import the package's buildTransitive/TltTrainer.targets"
native_rel="bin/Release/net10.0/runtimes/linux-x64/native/libLibTorchSharp.so"
native="$app/$native_rel"
[ -f "$native" ] || fail "no $native in the consumer's output"
host_libstdcxx=""
for c in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /lib/x86_64-linux-gnu/libstdc++.so.6 /usr/lib64/libstdc++.so.6; do
  if [ -f "$c" ]; then host_libstdcxx="$c"; break; fi
done
if [ -n "$host_libstdcxx" ] && ! grep -aq "$glibcxx" "$host_libstdcxx"; then
  grep -F "TltTrainer: marked the $glibcxx requirement weak in $native_rel" "$build_log" \
    || { cat "$build_log"; fail "the package's loader fix did not report patching $native"; }
  if command -v readelf >/dev/null 2>&1; then
    readelf -V "$native" | grep -E "Name: $glibcxx +Flags: WEAK" >/dev/null \
      || fail "$glibcxx is not marked weak in $native"
  fi
else
  say "host libstdc++ provides $glibcxx: no loader fix needed"
fi

# 4. Run (an incremental rebuild first, after which the fix must hold again) and check the last line.
run_log="$work/run.log"
say "running the consumer"
start=$SECONDS
status=0
(cd "$app" && timeout "${TLT_CONSUME_TIMEOUT:-1800}" dotnet run -c Release) 2>&1 | tee "$run_log" || status=$?
[ "$status" -eq 0 ] || fail "the consumer exited with status $status"
grep -Eq '^consumer ok: 2 steps, reward [0-9.]+ -> [0-9.]+$' "$run_log" || fail "the consumer did not print its 'consumer ok' line"
say "ok (consumer run $((SECONDS - start)) s)"
