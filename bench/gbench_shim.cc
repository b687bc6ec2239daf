// gbench_shim.cc - the one C++ file of bench-approx: wraps Google Benchmark
// behind the C API of gbench_shim.h. Bodies stay C; this file registers
// them, forwards counters and collects finished runs for the summary.
#include "gbench_shim.h"

#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

static benchmark::State &S(ax_gb_state *st) { return *reinterpret_cast<benchmark::State *>(st); }
static const benchmark::State &S(const ax_gb_state *st)
{
    return *reinterpret_cast<const benchmark::State *>(st);
}

extern "C" int ax_gb_init(int *argc, char **argv)
{
    benchmark::Initialize(argc, argv);
    return *argc - 1;
}

extern "C" void ax_gb_print_help(void) { benchmark::PrintDefaultHelp(); }

extern "C" void ax_gb_filter(char *buf, size_t cap)
{
    std::string f = benchmark::GetBenchmarkFilter();
    if (cap == 0) return;
    std::snprintf(buf, cap, "%s", f.c_str());
}

extern "C" void ax_gb_set_filter(const char *filter) { benchmark::SetBenchmarkFilter(filter ? filter : ""); }

extern "C" int ax_gb_register(const char *name, ax_gb_fn fn, void *ctx, bool real_time)
{
    auto *b = benchmark::RegisterBenchmark(name, [fn, ctx](benchmark::State &st) {
        fn(reinterpret_cast<ax_gb_state *>(&st), ctx);
    });
    if (!b) return -1;
    if (real_time) b->UseRealTime();
    return 0;
}

extern "C" void ax_gb_add_context(const char *key, const char *value)
{
    benchmark::AddCustomContext(key, value ? value : "");
}

extern "C" bool ax_gb_keep_running(ax_gb_state *st) { return S(st).KeepRunning(); }
extern "C" int64_t ax_gb_iterations(const ax_gb_state *st) { return (int64_t)S(st).iterations(); }

extern "C" void ax_gb_set_items_per_iteration(ax_gb_state *st, double items)
{
    S(st).SetItemsProcessed((int64_t)(items * (double)S(st).iterations()));
}

extern "C" void ax_gb_set_counter(ax_gb_state *st, const char *name, double value, ax_gb_counter_kind kind)
{
    S(st).counters[name] = benchmark::Counter(value, kind == AX_GB_RATE ? benchmark::Counter::kIsRate
                                                                        : benchmark::Counter::kDefaults);
}

extern "C" void ax_gb_set_label(ax_gb_state *st, const char *label) { S(st).SetLabel(label); }
extern "C" void ax_gb_skip_with_error(ax_gb_state *st, const char *msg) { S(st).SkipWithError(msg); }

namespace {
std::unique_ptr<benchmark::BenchmarkReporter> make_reporter(const char *format, bool display)
{
    if (format && std::strcmp(format, "json") == 0) return std::make_unique<benchmark::JSONReporter>();
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" // still a --benchmark_format
    if (format && std::strcmp(format, "csv") == 0) return std::make_unique<benchmark::CSVReporter>();
#pragma GCC diagnostic pop
    bool color = display && isatty(1);
    return std::make_unique<benchmark::ConsoleReporter>(color ? benchmark::ConsoleReporter::OO_Defaults
                                                              : benchmark::ConsoleReporter::OO_Tabular);
}

// Passes everything to the reporter the user asked for, with names kept to
// our five fields (Google Benchmark appends "/real_time" to real-time
// benchmarks), and hands every run to C when fn is set.
class Relay : public benchmark::BenchmarkReporter {
  public:
    Relay(std::unique_ptr<benchmark::BenchmarkReporter> inner, ax_gb_result_fn fn, void *ctx)
        : inner_(std::move(inner)), fn_(fn), ctx_(ctx) {}
    bool ReportContext(const Context &c) override
    {
        // Google Benchmark points our streams at --benchmark_out's file.
        inner_->SetOutputStream(&GetOutputStream());
        inner_->SetErrorStream(&GetErrorStream());
        return inner_->ReportContext(c);
    }
    void ReportRuns(const std::vector<Run> &runs) override
    {
        std::vector<Run> out(runs);
        for (Run &r : out) {
            r.run_name.time_type.clear();
            if (fn_) report(r);
        }
        inner_->ReportRuns(out);
    }
    void Finalize() override { inner_->Finalize(); }
    size_t count() const { return count_; }

  private:
    void report(const Run &r)
    {
        ax_gb_result res{};
        std::string name = r.benchmark_name();
        res.name = name.c_str();
        res.aggregate = r.run_type == Run::RT_Aggregate ? r.aggregate_name.c_str() : "";
        res.error = r.error_occurred;
        auto it = r.counters.find("items_per_second");
        res.items_per_second = it == r.counters.end() ? 0.0 : (double)it->second;
        double to_ns = 1e9 / benchmark::GetTimeUnitMultiplier(r.time_unit);
        res.real_time_ns = r.GetAdjustedRealTime() * to_ns;
        res.cpu_time_ns = r.GetAdjustedCPUTime() * to_ns;
        res.iterations = (int64_t)r.iterations;
        if (r.run_type == Run::RT_Iteration) ++count_;
        fn_(&res, ctx_);
    }
    std::unique_ptr<benchmark::BenchmarkReporter> inner_;
    ax_gb_result_fn fn_;
    void *ctx_;
    size_t count_ = 0;
};
} // namespace

extern "C" size_t ax_gb_run(const char *format, const char *file_format, ax_gb_result_fn fn, void *ctx)
{
    Relay display(make_reporter(format, true), fn, ctx);
    if (!file_format) {
        benchmark::RunSpecifiedBenchmarks(&display);
        return display.count();
    }
    Relay file(make_reporter(file_format, false), nullptr, nullptr);
    benchmark::RunSpecifiedBenchmarks(&display, &file);
    return display.count();
}

extern "C" void ax_gb_shutdown(void) { benchmark::Shutdown(); }
