import ArgumentParser
import ConfineCore
#if canImport(Glibc)
import Glibc
#endif

/// `confine run --copies N`: the run's main process is this launcher (inside the run's cgroup,
/// under its limits and seccomp profile), which starts N copies of the command at once, as
/// replicas sharing one pod's limits, and exits with the worst of their statuses: a copy killed
/// by a signal makes the launcher die of that signal (SIGKILL first: an OOM kill), else the
/// highest exit status. Each copy gets `CONFINE_COPY` (0…N-1) and `CONFINE_COPIES` in its
/// environment. Not for direct use (hidden).
struct CopiesLauncher: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "copies-launcher", shouldDisplay: false)

    @Option var count: Int

    @Argument(parsing: .captureForPassthrough) var command: [String] = []

    func run() throws {
        let words = PassthroughCommand.words(command)
        guard count > 0, !words.isEmpty else { throw ExitCode(64) }
        var children: [pid_t] = []
        for index in 0..<count {
            setenv("CONFINE_COPY", String(index), 1)
            setenv("CONFINE_COPIES", String(count), 1)
            let argv = words.map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var pid: pid_t = 0
            let status = posix_spawnp(&pid, words[0], nil, nil, argv, environ)
            guard status == 0 else {
                say("confine: cannot start copy \(index) of \(words[0]): \(String(cString: strerror(status)))\n")
                for child in children { kill(child, SIGKILL) }
                throw ExitCode(status == ENOENT ? 127 : 126)
            }
            children.append(pid)
        }
        var worstExit: Int32 = 0
        var deathSignals: [Int32] = []
        var remaining = Set(children)
        while !remaining.isEmpty {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, 0)
            if pid < 0 {
                if errno == EINTR { continue }
                break
            }
            guard remaining.remove(pid) != nil else { continue }
            let copy = children.firstIndex(of: pid) ?? -1
            if (status & 0x7f) == 0 {
                let code = (status >> 8) & 0xff
                worstExit = max(worstExit, code)
                if code != 0 { say("confine: copy \(copy) (pid \(pid)) exited with status \(code)\n") }
            } else {
                deathSignals.append(status & 0x7f)
                say("confine: copy \(copy) (pid \(pid)) died of \(signalName(status & 0x7f))\n")
            }
        }
        if let signal = deathSignals.contains(SIGKILL) ? SIGKILL : deathSignals.first {
            Glibc.signal(signal, SIG_DFL)
            kill(getpid(), signal)
        }
        throw ExitCode(worstExit)
    }

    /// Which copy failed, said on stderr as it happens (the run's report has the worst status).
    private func say(_ message: String) {
        _ = message.withCString { write(2, $0, strlen($0)) }
    }
}
