// Host emulation of the CUDA C that kernels.cu/ uses, so that its kernels run as plain C++ (g++ -std=c++20) in CI.
// A block's threads are OS threads (a pool reused from launch to launch); blocks run one after another, so `__shared__`
// can be `static`. __syncthreads is a barrier over the block; the warp collectives (shuffles, votes, ldmatrix, mma) are
// exchanges through per-warp slots closed by a barrier over the warp's lanes, and compute each lane's result from the
// PTX ISA's per-lane layouts. cp.async copies are held back until the cp.async.wait_group that waits for them, so a
// kernel that reads before waiting sees the shared memory's old contents, as it could on a GPU.
//
// A fault in any thread (an exception, a failed assert, a misaligned ldmatrix or cp.async address, lanes of a warp in
// different collectives, a thread that returned while others wait at a barrier) aborts the whole launch instead of
// hanging it: the first message is kept and emu_last_error() returns it after the launch.
//
// Included by common.cuh when RAWLORA_HOST_EMU is defined; one .cu file (one translation unit) per shared library.
#pragma once

#include <math.h>
#include <float.h>
#include <stdint.h>
#include <stdio.h>

#include <atomic>
#include <bit>
#include <cassert>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __shared__ static
#define __constant__
#define __align__(n) __attribute__((aligned(n)))
#define __grid_constant__
#define RAWLORA_EXPORT extern "C" __attribute__((visibility("default")))

// A kernel's assert fails the launch with a message instead of aborting the test process.
#undef assert
#define assert(e) ((e) ? void(0) : emu::fault(std::string("assert(") + #e + ") failed at " + __FILE__ + ":" + std::to_string(__LINE__)))

struct uint3 { unsigned x, y, z; };
struct dim3 { unsigned x = 1, y = 1, z = 1; };
// The vector types kernels use for 8- and 16-byte loads and stores, aligned as CUDA's.
struct __align__(8) uint2 { unsigned x, y; };
struct __align__(8) int2 { int x, y; };
struct __align__(8) float2 { float x, y; };
struct __align__(16) uint4 { unsigned x, y, z, w; };
struct __align__(16) int4 { int x, y, z, w; };
struct __align__(16) float4 { float x, y, z, w; };
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

// The launch shape the C# side passes (KernelLaunch mirrors it).
struct EmuLaunch { uint32_t grid[3]; uint32_t block[3]; uint32_t shared_bytes; };

static thread_local uint3 threadIdx, blockIdx;
static thread_local dim3 blockDim, gridDim;
static constexpr int warpSize = 32;

namespace emu {
namespace {

// The largest dynamic shared memory a block may ask for on sm_90 (227 KiB; sm_80 allows 163 KiB).
constexpr uint32_t kMaxDynamicShared = 227 * 1024;

// Thrown in the other threads of a launch once one has faulted, to unwind them to the launcher.
struct Abort {};

[[noreturn]] void fault(const std::string& what) { throw std::runtime_error(what); }

struct Launch;
void wake_all(Launch& launch);
void fail(Launch& launch, const std::string& what);
bool aborted(const Launch& launch);
std::string where_block();

// Why a thread arrives at a barrier. Every thread arrives at its warp's barrier for each warp collective, and also
// (without waiting there) on its way to __syncthreads or out of the kernel; at the block's barrier for __syncthreads and
// at the end of the kernel. A phase whose arrivals differ faults the launch: lanes that diverged around a collective,
// or a thread that returned while the others wait, would otherwise wait on each other forever.
enum class Arrival : unsigned { Collective, Syncthreads, End };

// A barrier that counts arrivals by kind (16 bits each), on atomic wait/notify (futexes); a fault releases every waiter.
class Barrier {
public:
    void reset(Launch* launch, unsigned expected, const char* what)
    {
        launch_ = launch;
        expected_ = expected;
        what_ = what;
        count_.store(0, std::memory_order_relaxed);
    }

    // Arrives; waits for the phase to complete unless `wait` is false. The last arriver runs `on_complete` first.
    template <class F>
    void arrive(Arrival kind, bool wait, F on_complete)
    {
        if (aborted(*launch_))
            throw Abort{};
        uint32_t phase = phase_.load(std::memory_order_acquire);
        uint64_t one = uint64_t{1} << (16 * static_cast<unsigned>(kind));
        uint64_t v = count_.fetch_add(one, std::memory_order_acq_rel) + one;
        unsigned n[3] = {unsigned(v & 0xffff), unsigned(v >> 16 & 0xffff), unsigned(v >> 32 & 0xffff)};
        if (n[0] + n[1] + n[2] == expected_)
        {
            count_.store(0, std::memory_order_relaxed);
            if (n[0] != expected_ && n[1] != expected_ && n[2] != expected_)
                fail(*launch_, where_block() + "the " + std::to_string(expected_) + " threads of " + what_ + " parted ways: " + std::to_string(n[0]) +
                               " in a warp collective, " + std::to_string(n[1]) + " at __syncthreads, " + std::to_string(n[2]) +
                               " at the end of the kernel (a thread returned early, or lanes took different branches around a collective)");
            else
                on_complete();
            release();
        }
        else if (wait)
        {
            while (phase_.load(std::memory_order_acquire) == phase)
                phase_.wait(phase, std::memory_order_acquire);
        }
        if (aborted(*launch_))
            throw Abort{};
    }

    // Ends the current phase for everyone (after a fault).
    void release()
    {
        phase_.fetch_add(1, std::memory_order_release);
        phase_.notify_all();
    }

private:
    Launch* launch_ = nullptr;
    unsigned expected_ = 0;
    const char* what_ = "";
    std::atomic<uint64_t> count_{0};
    std::atomic<uint32_t> phase_{0};
};

enum class Op : uint32_t { None, SyncWarp, Shfl, ShflUp, ShflDown, ShflXor, Vote, Ldmatrix, Mma };

// What one lane contributes to a warp collective.
struct Slot {
    Op op;
    uint32_t mask;
    uint32_t variant;      // ldmatrix: matrices | trans << 4
    uint64_t value;        // shuffles and votes
    const void* row;       // ldmatrix: the row this lane addresses
    uint32_t a[4], b[2];   // mma fragments
};

struct alignas(64) Warp {
    Barrier barrier;
    unsigned lanes = 0;
    // Two sets used in turn: a lane writes set t only after the barrier of collective t+1, which every lane reaches
    // after reading set t in collective t. So one barrier per collective suffices.
    Slot slots[2][32];
};

struct Launch {
    const char* kernel;
    void (*body)(const void*);
    const void* params;
    dim3 grid, block;
    unsigned threads;
    Barrier block_barrier;
    std::unique_ptr<Warp[]> warps;
    unsigned warp_count;
    std::vector<std::byte> shared_storage;
    std::byte* shared;  // 128-byte aligned in shared_storage
    uint32_t shared_bytes;
    std::atomic<bool> failed{false};
    std::mutex error_lock;
    std::string error;
    std::mutex done_lock;
    std::condition_variable done;
    unsigned finished = 0;  // threads done, under done_lock
};

bool aborted(const Launch& launch) { return launch.failed.load(std::memory_order_acquire); }

void wake_all(Launch& launch)
{
    launch.block_barrier.release();
    for (unsigned w = 0; w < launch.warp_count; ++w)
        launch.warps[w].barrier.release();
}

void fail(Launch& launch, const std::string& what)
{
    {
        std::lock_guard lock(launch.error_lock);
        if (launch.error.empty())
            launch.error = what;
    }
    launch.failed.store(true, std::memory_order_release);
    wake_all(launch);
}

struct PendingCopy {
    void* dst;
    unsigned char bytes[16];
};

// The emulated thread this OS thread is running.
struct Self {
    Launch* launch = nullptr;
    unsigned tid = 0, lane = 0;
    Warp* warp = nullptr;
    unsigned turn = 0;                  // collectives this lane has done, choosing the slot set
    std::vector<PendingCopy> copies;    // cp.async issued, not yet waited for
    std::vector<size_t> groups;         // end of each committed group in `copies`
};
thread_local Self self;

Launch& current()
{
    if (self.launch == nullptr)
        throw std::logic_error("a CUDA built-in was called outside a kernel launch");
    return *self.launch;
}

std::string triple(const char* name, unsigned x, unsigned y, unsigned z)
{
    return std::string(name) + " (" + std::to_string(x) + "," + std::to_string(y) + "," + std::to_string(z) + ")";
}

std::string where_block() { return std::string("kernel ") + self.launch->kernel + ", " + triple("block", blockIdx.x, blockIdx.y, blockIdx.z) + ": "; }

std::string where()
{
    return std::string("kernel ") + self.launch->kernel + ", " + triple("block", blockIdx.x, blockIdx.y, blockIdx.z) + ", " +
           triple("thread", threadIdx.x, threadIdx.y, threadIdx.z) + ": ";
}

uint32_t full_mask(const Warp& w) { return w.lanes == 32 ? 0xffffffffu : (1u << w.lanes) - 1; }

// Puts this lane's contribution in the warp's slots, waits for every lane, checks they all did the same collective, and
// returns the slots to read.
template <class Fill>
const Slot* exchange(Op op, uint32_t mask, uint32_t variant, Fill fill)
{
    current();
    Warp& w = *self.warp;
    Slot* slots = w.slots[self.turn++ & 1];
    Slot& mine = slots[self.lane];
    mine.op = op;
    mine.mask = mask;
    mine.variant = variant;
    fill(mine);
    if ((mask & full_mask(w)) != full_mask(w))
    {
        char hex[16];
        snprintf(hex, sizeof hex, "0x%08x", mask);
        fault(std::string("the emulation runs warp collectives on the whole warp only, but the mask is ") + hex);
    }
    w.barrier.arrive(Arrival::Collective, true, [] {});
    for (unsigned l = 0; l < w.lanes; ++l)
        if (slots[l].op != op || slots[l].mask != mask || slots[l].variant != variant)
            fault("lane " + std::to_string(l) + " of the warp is in a different warp collective (or the same with another mask or shape): "
                  "all lanes must execute the same one");
    return slots;
}

void sync_block()
{
    Launch& launch = current();
    self.warp->barrier.arrive(Arrival::Syncthreads, false, [] {});
    launch.block_barrier.arrive(Arrival::Syncthreads, true, [] {});
}

void sync_warp(uint32_t mask) { exchange(Op::SyncWarp, mask, 0, [](Slot&) {}); }

template <class T>
uint64_t to_bits(T v)
{
    static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "shuffles move values of at most 8 bytes");
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    return bits;
}

template <class T>
T from_bits(uint64_t bits)
{
    T v;
    std::memcpy(&v, &bits, sizeof(T));
    return v;
}

// The CUDA shuffles: `width` (a power of two up to 32) splits the warp into segments; a lane reads within its own
// segment, and down/xor/up that leave it keep the lane's own value (CUDA Programming Guide, "Warp Shuffle Functions").
template <class T>
T shuffle(Op op, uint32_t mask, T var, int arg, int width)
{
    if (width < 1 || width > 32 || (width & (width - 1)) != 0)
        fault("shuffle width " + std::to_string(width) + " is not a power of two from 1 to 32");
    const Slot* s = exchange(op, mask, 0, [&](Slot& m) { m.value = to_bits(var); });
    int lane = static_cast<int>(self.lane), first = lane & ~(width - 1), src = lane;
    switch (op)
    {
    case Op::Shfl: src = first + (arg & (width - 1)); break;
    case Op::ShflUp: src = lane - arg >= first ? lane - arg : lane; break;
    case Op::ShflDown: src = lane + arg < first + width ? lane + arg : lane; break;
    default: src = (lane ^ arg) < first + width ? lane ^ arg : lane; break;
    }
    if (src < 0 || src >= static_cast<int>(self.warp->lanes))
        src = lane;
    return from_bits<T>(s[src].value);
}

uint32_t ballot(uint32_t mask, bool predicate)
{
    const Slot* s = exchange(Op::Vote, mask, 0, [&](Slot& m) { m.value = predicate ? 1 : 0; });
    uint32_t bits = 0;
    for (unsigned l = 0; l < self.warp->lanes; ++l)
        bits |= static_cast<uint32_t>(s[l].value) << l;
    return bits;
}

void check_aligned(const void* p, const char* what)
{
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0)
        fault(std::string(what) + " address " + std::to_string(reinterpret_cast<uintptr_t>(p)) + " is not 16-byte aligned");
}

uint16_t load_b16(const void* row, int col)
{
    uint16_t v;
    std::memcpy(&v, static_cast<const std::byte*>(row) + 2 * col, 2);
    return v;
}

// ldmatrix.sync.aligned.m8n8.x{matrices}[.trans].shared.b16 (PTX ISA, "Warp-level matrix load instruction: ldmatrix"):
// lanes 8i..8i+7 address the rows of matrix i; lane l receives row l/4, columns 2(l%4) and 2(l%4)+1 of each matrix
// (of its transpose with .trans), the lower column in the low half.
void ldmatrix(uint32_t* r, const void* row, int matrices, bool trans)
{
    const Slot* s = exchange(Op::Ldmatrix, 0xffffffffu, matrices | (trans ? 16 : 0), [&](Slot& m) { m.row = row; });
    if (self.warp->lanes != 32)
        fault("ldmatrix needs a full warp of 32 threads");
    if (self.lane < 8u * matrices)
        check_aligned(row, "ldmatrix row");
    unsigned i = self.lane / 4, j = 2 * (self.lane % 4);
    for (int m = 0; m < matrices; ++m)
    {
        const Slot* rows = s + 8 * m;
        uint16_t lo = trans ? load_b16(rows[j].row, i) : load_b16(rows[i].row, j);
        uint16_t hi = trans ? load_b16(rows[j + 1].row, i) : load_b16(rows[i].row, j + 1);
        r[m] = lo | static_cast<uint32_t>(hi) << 16;
    }
}

float bf16_bits_to_float(uint32_t word, int half) { return std::bit_cast<float>(((word >> (16 * half)) & 0xffffu) << 16); }

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 (PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point
// type"): with g = lane/4 and t = lane%4, a[r] holds A[g + 8(r%2)][2t + 8(r/2) + {0,1}], b[r] holds B[2t + 8r + {0,1}][g],
// c[i] and d[i] are C/D[g + 8(i/2)][2t + i%2]. Products of bf16 are exact in float; they are summed in float in k order
// and added to c, which is one of the orders a tensor core may use.
void mma(float d[4], const uint32_t a[4], const uint32_t b[2], const float c[4])
{
    const Slot* s = exchange(Op::Mma, 0xffffffffu, 0, [&](Slot& m) {
        std::memcpy(m.a, a, sizeof m.a);
        std::memcpy(m.b, b, sizeof m.b);
    });
    if (self.warp->lanes != 32)
        fault("mma.sync needs a full warp of 32 threads");
    unsigned g = self.lane / 4, t = self.lane % 4;
    float arow[2][16], bcol[2][16];
    for (unsigned h = 0; h < 2; ++h)
        for (unsigned k = 0; k < 16; ++k)
        {
            unsigned holder = 4 * ((g + 8 * h) % 8) + (k % 8) / 2;
            arow[h][k] = bf16_bits_to_float(s[holder].a[h + 2 * (k / 8)], k % 2);
            unsigned col = 2 * t + h;
            bcol[h][k] = bf16_bits_to_float(s[4 * col + (k % 8) / 2].b[k / 8], k % 2);
        }
    float out[4];
    for (unsigned i = 0; i < 4; ++i)
    {
        float sum = 0;
        for (unsigned k = 0; k < 16; ++k)
            sum += arow[i / 2][k] * bcol[i % 2][k];
        out[i] = c[i] + sum;
    }
    std::memcpy(d, out, sizeof out);
}

// cp.async.cg.shared.global with src-size: held back until a wait_group completes its group.
void cp_async(void* smem, const void* gmem, int src_bytes)
{
    current();
    check_aligned(smem, "cp.async shared");
    check_aligned(gmem, "cp.async global");
    if (src_bytes < 0 || src_bytes > 16)
        fault("cp.async src-size " + std::to_string(src_bytes) + " is not in 0..16");
    PendingCopy copy{smem, {}};
    std::memcpy(copy.bytes, gmem, static_cast<size_t>(src_bytes));
    self.copies.push_back(copy);
}

void cp_async_commit()
{
    current();
    self.groups.push_back(self.copies.size());
}

// cp.async.wait_group n: completes every committed group but the newest n; copies not yet committed stay pending.
void cp_async_wait(int n)
{
    current();
    if (self.groups.size() <= static_cast<size_t>(n))
        return;
    size_t done_groups = self.groups.size() - n, done = self.groups[done_groups - 1];
    for (size_t i = 0; i < done; ++i)
        std::memcpy(self.copies[i].dst, self.copies[i].bytes, 16);
    self.copies.erase(self.copies.begin(), self.copies.begin() + static_cast<std::ptrdiff_t>(done));
    self.groups.erase(self.groups.begin(), self.groups.begin() + static_cast<std::ptrdiff_t>(done_groups));
    for (size_t& end : self.groups)
        end -= done;
}

void* dynamic_shared() { return current().shared; }

// Bytes no kernel should read before writing them: 0xff is a NaN in bf16 and float.
void poison_shared(Launch& launch) { std::memset(launch.shared, 0xff, launch.shared_bytes); }

// Runs emulated thread `tid` of every block of the launch in turn.
void run_thread(Launch& launch, unsigned tid)
{
    self.launch = &launch;
    self.tid = tid;
    self.lane = tid % 32;
    self.warp = &launch.warps[tid / 32];
    self.turn = 0;
    blockDim = launch.block;
    gridDim = launch.grid;
    threadIdx = {tid % launch.block.x, tid / launch.block.x % launch.block.y, tid / (launch.block.x * launch.block.y)};
    for (unsigned z = 0; z < launch.grid.z; ++z)
        for (unsigned y = 0; y < launch.grid.y; ++y)
            for (unsigned x = 0; x < launch.grid.x; ++x)
            {
                blockIdx = {x, y, z};
                self.copies.clear();
                self.groups.clear();
                try
                {
                    launch.body(launch.params);
                    self.warp->barrier.arrive(Arrival::End, false, [] {});
                    launch.block_barrier.arrive(Arrival::End, true, [&] { poison_shared(launch); });
                }
                catch (const Abort&)
                {
                    self.launch = nullptr;
                    return;
                }
                catch (const std::exception& e)
                {
                    fail(launch, where() + e.what());
                    self.launch = nullptr;
                    return;
                }
                catch (...)
                {
                    fail(launch, where() + "an exception that is not a std::exception");
                    self.launch = nullptr;
                    return;
                }
            }
    self.launch = nullptr;
}

// OS threads kept from launch to launch: worker i runs emulated thread i. Never destroyed (detached), so that process
// exit does not wait for or destroy threads blocked in a wait.
class Pool {
public:
    // Runs the launch; false if some of its threads were still running `timeout` after it began and had not stopped
    // 2 s after the launch was failed: those workers are then abandoned to the launch (which must then outlive them)
    // and replaced, so that a kernel looping forever fails its test instead of hanging the run.
    bool run(Launch& launch, std::chrono::duration<double> timeout)
    {
        while (workers_.size() < launch.threads)
            workers_.push_back(start(static_cast<unsigned>(workers_.size())));
        for (unsigned i = 0; i < launch.threads; ++i)
        {
            workers_[i]->busy.store(true, std::memory_order_relaxed);
            workers_[i]->job.store(&launch, std::memory_order_release);
            workers_[i]->job.notify_one();
        }
        std::unique_lock lock(launch.done_lock);
        auto all_done = [&] { return launch.finished == launch.threads; };
        if (launch.done.wait_for(lock, timeout, all_done))
            return true;
        lock.unlock();
        char seconds[32];
        snprintf(seconds, sizeof seconds, "%g", timeout.count());
        fail(launch, std::string("kernel ") + launch.kernel + " did not finish within " + seconds +
                         " s: a thread loops forever, or waits for something no thread of the block does");
        lock.lock();
        if (launch.done.wait_for(lock, std::chrono::seconds(2), all_done))
            return true;
        for (unsigned i = 0; i < launch.threads; ++i)
            if (workers_[i]->busy.load(std::memory_order_acquire))
                workers_[i] = start(i);
        return false;
    }

private:
    struct Worker {
        std::atomic<Launch*> job{nullptr};
        std::atomic<bool> busy{false};

        void loop(unsigned i)
        {
            for (;;)
            {
                job.wait(nullptr, std::memory_order_acquire);
                Launch* launch = job.exchange(nullptr, std::memory_order_acq_rel);
                run_thread(*launch, i);
                busy.store(false, std::memory_order_release);
                // Under the lock, so that the launcher, which may free the launch once it sees the count, sees it only
                // after this thread is done with it.
                std::lock_guard lock(launch->done_lock);
                if (++launch->finished == launch->threads)
                    launch->done.notify_all();
            }
        }
    };

    static Worker* start(unsigned i)
    {
        auto* w = new Worker();
        std::thread([w, i] { w->loop(i); }).detach();
        return w;
    }

    std::vector<Worker*> workers_;
};

std::mutex launch_lock;  // one launch at a time: static __shared__ and the pool are the library's
thread_local std::string last_error;
std::atomic<double> timeout_seconds{120};

std::string check_shape(const EmuLaunch& l)
{
    uint64_t threads = uint64_t{l.block[0]} * l.block[1] * l.block[2];
    if (l.grid[0] == 0 || l.grid[1] == 0 || l.grid[2] == 0 || l.grid[1] > 65535 || l.grid[2] > 65535)
        return "grid (" + std::to_string(l.grid[0]) + "," + std::to_string(l.grid[1]) + "," + std::to_string(l.grid[2]) +
               ") must have every extent at least 1, and y and z at most 65535";
    if (threads == 0 || threads > 1024 || l.block[2] > 64)
        return "block (" + std::to_string(l.block[0]) + "," + std::to_string(l.block[1]) + "," + std::to_string(l.block[2]) +
               ") must have 1 to 1024 threads, and z at most 64";
    if (l.shared_bytes > kMaxDynamicShared)
        return "dynamic shared memory " + std::to_string(l.shared_bytes) + " bytes is more than a block may have (" +
               std::to_string(kMaxDynamicShared) + ")";
    return {};
}

void launch_checked(const char* kernel, const EmuLaunch& shape, void (*body)(const void*), const void* params)
{
    last_error = check_shape(shape);
    if (!last_error.empty())
    {
        last_error = std::string("kernel ") + kernel + ": " + last_error;
        return;
    }
    static Pool& pool = *new Pool();
    std::lock_guard lock(launch_lock);
    auto launch = std::make_unique<Launch>();
    launch->kernel = kernel;
    launch->body = body;
    launch->params = params;
    launch->grid = {shape.grid[0], shape.grid[1], shape.grid[2]};
    launch->block = {shape.block[0], shape.block[1], shape.block[2]};
    launch->threads = shape.block[0] * shape.block[1] * shape.block[2];
    launch->warp_count = (launch->threads + 31) / 32;
    launch->warps = std::make_unique<Warp[]>(launch->warp_count);
    launch->block_barrier.reset(launch.get(), launch->threads, "the block");
    for (unsigned w = 0; w < launch->warp_count; ++w)
    {
        launch->warps[w].lanes = std::min(32u, launch->threads - 32 * w);
        launch->warps[w].barrier.reset(launch.get(), launch->warps[w].lanes, "a warp");
    }
    launch->shared_storage.resize(shape.shared_bytes + 128);
    launch->shared = launch->shared_storage.data() + (128 - reinterpret_cast<uintptr_t>(launch->shared_storage.data()) % 128) % 128;
    launch->shared_bytes = shape.shared_bytes;
    poison_shared(*launch);
    bool finished = pool.run(*launch, std::chrono::duration<double>(timeout_seconds.load()));
    last_error = launch->error;
    if (!finished)
        launch.release();  // abandoned threads still use it
}

// Nothing may leave the exported entry as an exception: the caller is .NET.
void run_launch(const char* kernel, const EmuLaunch& shape, void (*body)(const void*), const void* params)
{
    try
    {
        launch_checked(kernel, shape, body, params);
    }
    catch (const std::exception& e)
    {
        last_error = std::string("kernel ") + kernel + ": the emulation could not launch it: " + e.what();
    }
}

}  // namespace
}  // namespace emu

// The message of the calling thread's last launch that failed in this library, or null when it succeeded.
RAWLORA_EXPORT __attribute__((weak)) const char* emu_last_error()
{
    return emu::last_error.empty() ? nullptr : emu::last_error.c_str();
}

// How long a launch may run before it fails as hung (120 s unless set; per library).
RAWLORA_EXPORT __attribute__((weak)) void emu_set_timeout(double seconds) { emu::timeout_seconds.store(seconds); }

#define RAWLORA_HOST_ENTRY(kernel, Params)                                                                            \
    RAWLORA_EXPORT void emu_##kernel(const EmuLaunch* launch, const Params* p)                                        \
    {                                                                                                                 \
        emu::run_launch(#kernel, *launch, [](const void* q) { kernel(*static_cast<const Params*>(q)); }, p);         \
    }

#define DYNAMIC_SHARED(type, name) type* name = reinterpret_cast<type*>(emu::dynamic_shared())

// CUDA built-ins kernels use, on the host.
inline void __syncthreads() { emu::sync_block(); }
inline void __syncwarp(unsigned mask = 0xffffffffu) { emu::sync_warp(mask); }
template <class T> T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) { return emu::shuffle(emu::Op::Shfl, mask, var, src_lane, width); }
template <class T> T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) { return emu::shuffle(emu::Op::ShflUp, mask, var, static_cast<int>(delta), width); }
template <class T> T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) { return emu::shuffle(emu::Op::ShflDown, mask, var, static_cast<int>(delta), width); }
template <class T> T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) { return emu::shuffle(emu::Op::ShflXor, mask, var, lane_mask, width); }
inline unsigned __ballot_sync(unsigned mask, int predicate) { return emu::ballot(mask, predicate != 0); }
inline int __any_sync(unsigned mask, int predicate) { return emu::ballot(mask, predicate != 0) != 0; }
inline int __all_sync(unsigned mask, int predicate) { return emu::ballot(mask, predicate != 0) == (mask & emu::full_mask(*emu::self.warp)); }

template <class T> T atomicAdd(T* address, T value) { return std::atomic_ref<T>(*address).fetch_add(value); }
template <class T> T atomicExch(T* address, T value) { return std::atomic_ref<T>(*address).exchange(value); }
template <class T> T atomicCAS(T* address, T compare, T value)
{
    std::atomic_ref<T>(*address).compare_exchange_strong(compare, value);
    return compare;
}
template <class T> T atomicMax(T* address, T value)
{
    std::atomic_ref<T> a(*address);
    T old = a.load();
    while (old < value && !a.compare_exchange_weak(old, value)) {}
    return old;
}
template <class T> T atomicMin(T* address, T value)
{
    std::atomic_ref<T> a(*address);
    T old = a.load();
    while (value < old && !a.compare_exchange_weak(old, value)) {}
    return old;
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
[[noreturn]] inline void __trap() { emu::fault("__trap()"); }
template <class T> T __ldg(const T* p) { return *p; }

inline float __int_as_float(int v) { return std::bit_cast<float>(v); }
inline int __float_as_int(float v) { return std::bit_cast<int>(v); }
inline float __uint_as_float(unsigned v) { return std::bit_cast<float>(v); }
inline unsigned __float_as_uint(float v) { return std::bit_cast<unsigned>(v); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fmaf_rn(float x, float y, float z) { return fmaf(x, y, z); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long long min(long long a, long long b) { return a < b ? a : b; }
inline long long max(long long a, long long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
