<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>App</name>
    <message>
        <source>ASR Tray seems to be running already (its lock is held) but does not answer. If no ASR Tray is running, delete {lock} and start it again.</source>
        <translation>ASR Tray 似乎已在运行（其锁文件被占用），但没有响应。如果并没有 ASR Tray 在运行，请删除 {lock} 后重新启动。</translation>
    </message>
</context>
<context>
    <name>Autostart</name>
    <message>
        <source>Starting ASR Tray at log-in could not be changed: {0} could not be written ({1}). Check that you may write there, then try again.</source>
        <translation>无法更改登录时启动 ASR Tray 的设置：无法写入 {0}（{1}）。请确认您有写入权限，然后重试。</translation>
    </message>
    <message>
        <source>Local speech recognition in the system tray</source>
        <translation>系统托盘中的本地语音识别</translation>
    </message>
</context>
<context>
    <name>CaptionsWindow</name>
    <message>
        <source>English (en)</source>
        <translation>英语 (en)</translation>
    </message>
    <message>
        <source>Live captions — ASR Tray</source>
        <translation>实时字幕 — ASR Tray</translation>
    </message>
    <message>
        <source>Microphone</source>
        <translation>麦克风</translation>
    </message>
    <message>
        <source>Look for microphones again (one plugged in since)</source>
        <translation>重新查找麦克风（用于刚插入的设备）</translation>
    </message>
    <message>
        <source>Input level</source>
        <translation>输入电平</translation>
    </message>
    <message>
        <source>The language spoken. Automatic detects it; an English-only model knows English only.</source>
        <translation>所说的语言。“自动”会自动识别；仅英语模型只能识别英语。</translation>
    </message>
    <message>
        <source>Start</source>
        <translation>开始</translation>
    </message>
    <message>
        <source>Microphone:</source>
        <translation>麦克风：</translation>
    </message>
    <message>
        <source>Press Start to caption what the microphone hears.</source>
        <translation>按“开始”，为麦克风听到的内容生成字幕。</translation>
    </message>
    <message>
        <source> pt</source>
        <translation> 磅</translation>
    </message>
    <message>
        <source>Text size</source>
        <translation>文字大小</translation>
    </message>
    <message>
        <source>Always on top</source>
        <translation>窗口置顶</translation>
    </message>
    <message>
        <source>Timestamps</source>
        <translation>时间戳</translation>
    </message>
    <message>
        <source>Show before each line when it was said (time since the captions began)</source>
        <translation>在每行前显示说话的时间（从字幕开始算起）</translation>
    </message>
    <message>
        <source>Subtitle overlay</source>
        <translation>悬浮字幕</translation>
    </message>
    <message>
        <source>Show the last two lines in a strip above every window. Drag it to move it, drag its edges to resize it.</source>
        <translation>在所有窗口之上的横条中显示最后两行。拖动可移动，拖动边缘可调整大小。</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Copy the selection, or every finished line</source>
        <translation>复制所选内容；未选择时复制所有已完成的行</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>清空</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>导出</translation>
    </message>
    <message>
        <source>{name} (.{ext})…</source>
        <translation>{name}（.{ext}）…</translation>
    </message>
    <message>
        <source>Size:</source>
        <translation>字号：</translation>
    </message>
    <message>
        <source>Language:</source>
        <translation>语言：</translation>
    </message>
    <message>
        <source>The ASR service is not running. Captions need it.</source>
        <translation>ASR 服务未在运行。字幕需要它。</translation>
    </message>
    <message>
        <source>Starting the ASR service…</source>
        <translation>正在启动 ASR 服务…</translation>
    </message>
    <message>
        <source>Export captions as {format}</source>
        <translation>将字幕导出为 {format}</translation>
    </message>
    <message>
        <source>{name} (*.{ext})</source>
        <translation>{name} (*.{ext})</translation>
    </message>
    <message>
        <source>Start the service</source>
        <translation>启动服务</translation>
    </message>
    <message>
        <source>Choose a model…</source>
        <translation>选择模型…</translation>
    </message>
    <message>
        <source>Hide this message</source>
        <translation>隐藏此消息</translation>
    </message>
    <message>
        <source>Automatic (detect the language)</source>
        <translation>自动（识别语言）</translation>
    </message>
    <message>
        <source>The loaded model ({model}) does not know {language}, so captions use Automatic. To caption {language}, choose the multilingual model (base) in Settings → Models.</source>
        <translation>已加载的模型（{model}）不支持{language}，因此字幕改用“自动”。要为{language}生成字幕，请在“设置 → 模型”中选择多语言模型（base）。</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>No microphone was found. Plug one in, then press ↻.</source>
        <translation>未找到麦克风。请插入一个，然后按 ↻。</translation>
    </message>
    <message>
        <source>The microphone chosen before ({wanted}) is not connected, so {device} is used. Plug it in and press ↻ to use it again.</source>
        <translation>之前选择的麦克风（{wanted}）未连接，因此使用 {device}。请插入该麦克风并按 ↻ 重新使用。</translation>
    </message>
</context>
<context>
    <name>Capture</name>
    <message>
        <source>Audio capture is not available: the PortAudio library could not be loaded ({error}). Install PortAudio (libportaudio2 on Debian/Ubuntu), then start captions again.</source>
        <translation>无法采集音频：PortAudio 库加载失败（{error}）。请安装 PortAudio（Debian/Ubuntu 上为 libportaudio2），然后重新开始字幕。</translation>
    </message>
    <message>
        <source>What this computer plays: {device}</source>
        <translation>本机正在播放的声音：{device}</translation>
    </message>
    <message>
        <source>System default</source>
        <translation>系统默认</translation>
    </message>
    <message>
        <source>PulseAudio sound server</source>
        <translation>PulseAudio 声音服务器</translation>
    </message>
    <message>
        <source>The list of audio devices could not be read ({error}). Check that the sound system is running, then refresh the list.</source>
        <translation>无法读取音频设备列表（{error}）。请确认声音系统正在运行，然后刷新列表。</translation>
    </message>
    <message>
        <source>{device} (default)</source>
        <translation>{device}（默认）</translation>
    </message>
    <message>
        <source>No microphone was found. Plug one in (or enable it in the system&apos;s sound settings), then press Start again.</source>
        <translation>未找到麦克风。请插入一个（或在系统声音设置中启用它），然后再按“开始”。</translation>
    </message>
    <message>
        <source>The microphone &apos;{device}&apos; is not connected any more. Plug it back in, or pick another device, then press Start.</source>
        <translation>麦克风“{device}”已断开连接。请重新插入，或选择其他设备，然后按“开始”。</translation>
    </message>
    <message>
        <source>The microphone &apos;{device}&apos; could not be opened ({error}). Another program may hold it, or it was just unplugged: pick another device or try again.</source>
        <translation>无法打开麦克风“{device}”（{error}）。它可能正被其他程序占用，或刚被拔出：请选择其他设备或重试。</translation>
    </message>
    <message>
        <source>The microphone &apos;{device}&apos; stopped delivering audio: it was unplugged or the sound system stopped it. Plug it back in or pick another device, then press Start.</source>
        <translation>麦克风“{device}”不再传送音频：它已被拔出，或被声音系统停用。请重新插入或选择其他设备，然后按“开始”。</translation>
    </message>
    <message>
        <source>The microphone stopped delivering audio: it was unplugged or the sound system stopped it. Plug it back in or pick another device, then press Start.</source>
        <translation>麦克风不再传送音频：它已被拔出，或被声音系统停用。请重新插入或选择其他设备，然后按“开始”。</translation>
    </message>
    <message>
        <source>The microphone &apos;{device}&apos; has delivered no audio for {s} s: it was probably unplugged or suspended. Plug it back in or pick another device, then press Start.</source>
        <translation>麦克风“{device}”已有 {s} 秒没有传送音频：它可能已被拔出或进入休眠。请重新插入或选择其他设备，然后按“开始”。</translation>
    </message>
</context>
<context>
    <name>Controls</name>
    <message>
        <source>Start service</source>
        <translation>启动服务</translation>
    </message>
    <message>
        <source>Stop service</source>
        <translation>停止服务</translation>
    </message>
    <message>
        <source>Restart service</source>
        <translation>重启服务</translation>
    </message>
    <message>
        <source>Live captions…</source>
        <translation>实时字幕…</translation>
    </message>
    <message>
        <source>Status…</source>
        <translation>状态…</translation>
    </message>
    <message>
        <source>Settings…</source>
        <translation>设置…</translation>
    </message>
    <message>
        <source>Kill leftover workers</source>
        <translation>结束残留的工作进程</translation>
    </message>
    <message>
        <source>Open log folder</source>
        <translation>打开日志文件夹</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message numerus="yes">
        <source>Kill leftover workers (%n found)</source>
        <translation>
            <numerusform>结束残留的工作进程（发现 %n 个）</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>FallbackWindow</name>
    <message>
        <source>No system tray was found on this desktop, so ASR Tray shows its controls in this window instead. Closing the window quits ASR Tray and stops the service.</source>
        <translation>此桌面上没有找到系统托盘，因此 ASR Tray 在这个窗口中显示其控件。关闭此窗口将退出 ASR Tray 并停止服务。</translation>
    </message>
    <message>
        <source>ASR Tray shows its controls in this window (--no-tray). Closing the window quits ASR Tray and stops the service.</source>
        <translation>ASR Tray 在这个窗口中显示其控件（--no-tray）。关闭此窗口将退出 ASR Tray 并停止服务。</translation>
    </message>
    <message>
        <source>{title}: {message}</source>
        <translation>{title}：{message}</translation>
    </message>
</context>
<context>
    <name>LeftoversDialog</name>
    <message>
        <source>PID</source>
        <translation>PID</translation>
    </message>
    <message>
        <source>Role</source>
        <translation>角色</translation>
    </message>
    <message>
        <source>Age</source>
        <translation>已运行</translation>
    </message>
    <message>
        <source>RSS</source>
        <translation>内存（RSS）</translation>
    </message>
    <message>
        <source>GPU memory</source>
        <translation>GPU 显存</translation>
    </message>
    <message>
        <source>Started</source>
        <translation>启动时间</translation>
    </message>
    <message>
        <source>Runtime directory</source>
        <translation>运行时目录</translation>
    </message>
    <message>
        <source>Command line</source>
        <translation>命令行</translation>
    </message>
    <message>
        <source>{n} s</source>
        <translation>{n} 秒</translation>
    </message>
    <message>
        <source>{n} min</source>
        <translation>{n} 分钟</translation>
    </message>
    <message>
        <source>{n} h</source>
        <translation>{n} 小时</translation>
    </message>
    <message>
        <source>ASR Tray — Leftover workers</source>
        <translation>ASR Tray — 残留的工作进程</translation>
    </message>
    <message numerus="yes">
        <source>%n process(es) of earlier ASR Tray runs are still running, and no tray owns them any more (found on this machine, whatever runtime directory they used). Ending them frees their memory (and GPU memory). The service of this tray is not among them.</source>
        <translation>
            <numerusform>之前运行的 ASR Tray 留下了 %n 个进程仍在运行，且已没有托盘管理它们（在本机范围内查找，无论它们使用哪个运行时目录）。结束它们可释放其占用的内存（和 GPU 显存）。当前托盘的服务不在其中。</numerusform>
        </translation>
    </message>
    <message>
        <source>End them</source>
        <translation>结束它们</translation>
    </message>
</context>
<context>
    <name>LeftoversFlow</name>
    <message>
        <source>Could not look for leftover workers: {error}. Try again, or run &apos;asr-service leftovers&apos; in a terminal to see the details.</source>
        <translation>无法查找残留的工作进程：{error}。请重试，或在终端中运行“asr-service leftovers”查看详情。</translation>
    </message>
    <message>
        <source>Ending the leftover workers failed: {error}. Run &apos;asr-service leftovers --kill&apos; in a terminal to see the details.</source>
        <translation>结束残留的工作进程失败：{error}。请在终端中运行“asr-service leftovers --kill”查看详情。</translation>
    </message>
    <message>
        <source>No leftover workers were found.</source>
        <translation>没有发现残留的工作进程。</translation>
    </message>
    <message numerus="yes">
        <source>Ended %n leftover process(es).</source>
        <translation>
            <numerusform>已结束 %n 个残留进程。</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n could not be ended (pid {pids}): they may belong to another user; end them from an administrator shell.</source>
        <translation>
            <numerusform>有 %n 个无法结束（PID {pids}）：它们可能属于其他用户；请在管理员终端中结束它们。</numerusform>
        </translation>
    </message>
    <message>
        <source>GPU memory is still held by pid {pids}.</source>
        <translation>PID {pids} 仍占用着 GPU 显存。</translation>
    </message>
</context>
<context>
    <name>LiveCaptions</name>
    <message>
        <source>Text</source>
        <translation>文本</translation>
    </message>
    <message>
        <source>SubRip subtitles</source>
        <translation>SubRip 字幕</translation>
    </message>
    <message>
        <source>WebVTT subtitles</source>
        <translation>WebVTT 字幕</translation>
    </message>
    <message>
        <source>Live captions cannot start: the ASR service is not running. Start it from the tray menu (or wait until it is ready), then press Start.</source>
        <translation>无法开始实时字幕：ASR 服务未在运行。请从托盘菜单启动服务（或等待它就绪），然后按“开始”。</translation>
    </message>
    <message>
        <source>Opening the microphone…</source>
        <translation>正在打开麦克风…</translation>
    </message>
    <message>
        <source>Stopped. Finishing the last words…</source>
        <translation>已停止。正在转写最后的内容…</translation>
    </message>
    <message>
        <source>The ASR service is restarting; captions continue by themselves when it is back.</source>
        <translation>ASR 服务正在重新启动；服务恢复后字幕会自动继续。</translation>
    </message>
    <message>
        <source>Starting the ASR service… captions begin when it is ready.</source>
        <translation>正在启动 ASR 服务… 服务就绪后字幕即开始。</translation>
    </message>
    <message>
        <source>The ASR service is ready. Press Start to caption what the microphone hears.</source>
        <translation>ASR 服务已就绪。按“开始”，为麦克风听到的内容生成字幕。</translation>
    </message>
    <message>
        <source>The ASR service was stopped, so live captions stopped. Start the service again (tray menu → Start service), then press Start.</source>
        <translation>ASR 服务已停止，因此实时字幕也已停止。请重新启动服务（托盘菜单 → 启动服务），然后按“开始”。</translation>
    </message>
    <message>
        <source>The ASR service failed, so live captions stopped. The tray&apos;s message says why; once the service runs again, press Start.</source>
        <translation>ASR 服务出错，因此实时字幕已停止。原因见托盘的提示消息；服务重新运行后，请按“开始”。</translation>
    </message>
    <message>
        <source>Live captions stopped: the ASR service did not take the stream back after {n} tries ({why}). Check the service (tray menu → Status), then press Start.</source>
        <translation>实时字幕已停止：尝试 {n} 次后 ASR 服务仍未恢复音频流（{why}）。请检查服务（托盘菜单 → 状态），然后按“开始”。</translation>
    </message>
    <message>
        <source>The captions could not be saved to {path} ({why}). Pick a folder you can write to and export again.</source>
        <translation>无法将字幕保存到 {path}（{why}）。请选择一个可写入的文件夹，然后重新导出。</translation>
    </message>
    <message>
        <source>Saved {n} lines to {path}.</source>
        <translation>已将 {n} 行保存到 {path}。</translation>
    </message>
    <message>
        <source>The microphones could not be listed ({why}).</source>
        <translation>无法列出麦克风（{why}）。</translation>
    </message>
    <message>
        <source>This does not sound like English, and the loaded model ({model}) knows only English. To caption other languages, choose the multilingual model (base) in Settings → Models.</source>
        <translation>这听起来不像英语，而已加载的模型（{model}）只支持英语。要为其他语言生成字幕，请在“设置 → 模型”中选择多语言模型（base）。</translation>
    </message>
    <message>
        <source>Listening on {device}.</source>
        <translation>正在收听：{device}。</translation>
    </message>
    <message>
        <source>Listening again on {device}.</source>
        <translation>已重新开始收听 {device}。</translation>
    </message>
    <message>
        <source>Stopped. Press Start to caption again.</source>
        <translation>已停止。按“开始”可再次生成字幕。</translation>
    </message>
</context>
<context>
    <name>ModelDownload</name>
    <message>
        <source>The download of {0} failed and gave no reason.</source>
        <translation>{0} 下载失败，未给出原因。</translation>
    </message>
    <message>
        <source>no message</source>
        <translation>无消息</translation>
    </message>
    <message>
        <source>The download of {0} stopped unexpectedly (exit code {1}: {2}). Download it again to resume where it stopped.</source>
        <translation>{0} 的下载意外停止（退出码 {1}：{2}）。请再次下载，将从中断处继续。</translation>
    </message>
    <message>
        <source>The download could not be started: {0} did not run. Reinstall the app, then try again.</source>
        <translation>无法开始下载：{0} 未能运行。请重新安装本应用，然后重试。</translation>
    </message>
</context>
<context>
    <name>ModelsCatalog</name>
    <message>
        <source>The list of models could not be read: {0}</source>
        <translation>无法读取模型列表：{0}</translation>
    </message>
    <message>
        <source>The list of models could not be read: the service&apos;s models command answered something else than a list (exit code {0}). See the tray&apos;s log for what it said.</source>
        <translation>无法读取模型列表：服务的 models 命令返回的不是列表（退出码 {0}）。它的输出请查看托盘的日志。</translation>
    </message>
    <message>
        <source>The folder {0} could not be checked: {1}</source>
        <translation>无法检查文件夹 {0}：{1}</translation>
    </message>
    <message>
        <source>The folder {0} is not a model ASR Tray can use (the check gave no reason).</source>
        <translation>文件夹 {0} 不是 ASR Tray 可用的模型（检查没有给出原因）。</translation>
    </message>
    <message>
        <source>the command did not answer within {0} s.</source>
        <translation>该命令在 {0} 秒内没有响应。</translation>
    </message>
    <message>
        <source>the command {0} stopped abnormally.</source>
        <translation>命令 {0} 异常终止。</translation>
    </message>
    <message>
        <source>no message</source>
        <translation>无消息</translation>
    </message>
    <message>
        <source>the command ended with exit code {0} ({1}).</source>
        <translation>该命令以退出码 {0} 结束（{1}）。</translation>
    </message>
    <message>
        <source>{0} could not be started. Reinstall the app, then try again.</source>
        <translation>无法启动 {0}。请重新安装本应用，然后重试。</translation>
    </message>
</context>
<context>
    <name>ModelsPage</name>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>Languages</source>
        <translation>语言</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <source>Location</source>
        <translation>位置</translation>
    </message>
    <message>
        <source>Current</source>
        <translation>当前</translation>
    </message>
    <message>
        <source>Looking for models…</source>
        <translation>正在查找模型…</translation>
    </message>
    <message>
        <source>Use this model</source>
        <translation>使用此模型</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>刷新</translation>
    </message>
    <message>
        <source>Choose a folder…</source>
        <translation>选择文件夹…</translation>
    </message>
    <message>
        <source>Download a model</source>
        <translation>下载模型</translation>
    </message>
    <message>
        <source>A faster-whisper model name, such as large-v3</source>
        <translation>faster-whisper 模型名称，例如 large-v3</translation>
    </message>
    <message>
        <source>Download…</source>
        <translation>下载…</translation>
    </message>
    <message>
        <source>Cancel download</source>
        <translation>取消下载</translation>
    </message>
    <message>
        <source>Models other than the ones above are downloaded from the Hugging Face hub (needs a network); a stopped download resumes where it stopped.</source>
        <translation>上面以外的模型从 Hugging Face Hub 下载（需要网络）；中断的下载会从中断处继续。</translation>
    </message>
    <message>
        <source>Model to use: {0}</source>
        <translation>要使用的模型：{0}</translation>
    </message>
    <message>
        <source>Checking the folder {0}…</source>
        <translation>正在检查文件夹 {0}…</translation>
    </message>
    <message>
        <source>Enter the name of a faster-whisper model to download, such as large-v3.</source>
        <translation>请输入要下载的 faster-whisper 模型名称，例如 large-v3。</translation>
    </message>
    <message>
        <source>&apos;{0}&apos; is not a faster-whisper model name. Pick one from the list, such as large-v3 or distil-large-v3.</source>
        <translation>“{0}”不是 faster-whisper 模型名称。请从列表中选择一个，例如 large-v3 或 distil-large-v3。</translation>
    </message>
    <message>
        <source>Starting the download of {0}…</source>
        <translation>正在开始下载 {0}…</translation>
    </message>
    <message>
        <source>English only</source>
        <translation>仅英语</translation>
    </message>
    <message>
        <source>Multilingual</source>
        <translation>多语言</translation>
    </message>
    <message>
        <source>Models that can be used now, without a network:</source>
        <translation>现在无需网络即可使用的模型：</translation>
    </message>
    <message>
        <source>No model can be used now: download one below or choose a folder.</source>
        <translation>现在没有可用的模型：请在下方下载一个，或选择一个文件夹。</translation>
    </message>
    <message>
        <source>Yes</source>
        <translation>是</translation>
    </message>
    <message>
        <source>Choose a folder with a CTranslate2 Whisper model</source>
        <translation>选择包含 CTranslate2 Whisper 模型的文件夹</translation>
    </message>
    <message>
        <source>The folder {0} holds a model ASR Tray can use; press Apply to use it.</source>
        <translation>文件夹 {0} 中有 ASR Tray 可用的模型；按“应用”即可使用。</translation>
    </message>
    <message>
        <source>{0}/s</source>
        <translation>{0}/秒</translation>
    </message>
    <message>
        <source>speed unknown</source>
        <translation>速度未知</translation>
    </message>
    <message>
        <source>{0}: {1} of {2} · {3} · {4}</source>
        <translation>{0}：{1} / {2} · {3} · {4}</translation>
    </message>
    <message>
        <source>{0}: {1} so far · {2} · {3}</source>
        <translation>{0}：已下载 {1} · {2} · {3}</translation>
    </message>
    <message>
        <source>time left unknown</source>
        <translation>剩余时间未知</translation>
    </message>
    <message>
        <source>{0} s left</source>
        <translation>还剩 {0} 秒</translation>
    </message>
    <message>
        <source>{0} min {1} s left</source>
        <translation>还剩 {0} 分 {1} 秒</translation>
    </message>
    <message>
        <source>{0} h {1} min left</source>
        <translation>还剩 {0} 小时 {1} 分</translation>
    </message>
    <message>
        <source>{0} is downloaded to {1}. Select it above and press Use this model.</source>
        <translation>{0} 已下载到 {1}。请在上方选中它，然后按“使用此模型”。</translation>
    </message>
    <message>
        <source>The download of {0} was cancelled. Download it again to resume where it stopped.</source>
        <translation>{0} 的下载已取消。再次下载即可从中断处继续。</translation>
    </message>
</context>
<context>
    <name>QuitSequence</name>
    <message>
        <source>ASR Tray: processes had to be ended</source>
        <translation>ASR Tray：有进程被强制结束</translation>
    </message>
</context>
<context>
    <name>ServiceProcess</name>
    <message>
        <source>Port {asked} was in use by another program, so the service listens on {got}.</source>
        <translation>端口 {asked} 已被其他程序占用，因此服务改为监听端口 {got}。</translation>
    </message>
    <message>
        <source>{first} and {second} in {folder}</source>
        <translation>{folder} 中的 {first} 和 {second}</translation>
    </message>
    <message>
        <source>no reason given</source>
        <translation>未说明原因</translation>
    </message>
    <message>
        <source>The ASR service could not start: {reason}</source>
        <translation>ASR 服务无法启动：{reason}</translation>
    </message>
    <message>
        <source>The ASR service did not become ready within {s} s (loading the model may have hung). See {logs} for details, then use Start to try again.</source>
        <translation>ASR 服务在 {s} 秒内没有就绪（加载模型时可能卡住了）。详情请查看 {logs}，然后用“启动服务”重试。</translation>
    </message>
    <message>
        <source>The ASR service could not be started ({command}): the program did not run. Reinstall the app, then use Start.</source>
        <translation>无法启动 ASR 服务（{command}）：程序没有运行。请重新安装本应用，然后用“启动服务”。</translation>
    </message>
    <message>
        <source>The ASR service stopped unexpectedly (exit code {code}). Its last message: &quot;{last}&quot;. Its logs are {logs}; use Start to run it again.</source>
        <translation>ASR 服务意外停止（退出码 {code}）。它的最后一条消息：“{last}”。日志见 {logs}；可用“启动服务”重新运行。</translation>
    </message>
    <message>
        <source>The ASR service stopped unexpectedly (exit code {code}). Its logs are {logs}; use Start to run it again.</source>
        <translation>ASR 服务意外停止（退出码 {code}）。日志见 {logs}；可用“启动服务”重新运行。</translation>
    </message>
</context>
<context>
    <name>Settings</name>
    <message>
        <source>access denied</source>
        <translation>拒绝访问</translation>
    </message>
    <message>
        <source>The settings could not be saved to {0} ({1}). Check that the folder exists and that you may write to it, then try again.</source>
        <translation>无法将设置保存到 {0}（{1}）。请确认该文件夹存在且您有写入权限，然后重试。</translation>
    </message>
    <message>
        <source>Choose a model: the name of a Whisper model (such as tiny.en or base) or a folder that holds a CTranslate2 model.</source>
        <translation>请选择模型：Whisper 模型的名称（例如 tiny.en 或 base），或包含 CTranslate2 模型的文件夹。</translation>
    </message>
    <message>
        <source>The folder {0} does not exist. Choose a folder that holds a CTranslate2 model, or pick a model from the list.</source>
        <translation>文件夹 {0} 不存在。请选择包含 CTranslate2 模型的文件夹，或从列表中选择模型。</translation>
    </message>
    <message>
        <source>&apos;{0}&apos; is neither a Whisper model name (such as tiny.en, base or large-v3) nor a folder on this computer. Pick a model from the list or choose a folder.</source>
        <translation>“{0}”既不是 Whisper 模型名称（例如 tiny.en、base 或 large-v3），也不是本机上的文件夹。请从列表中选择模型，或选择一个文件夹。</translation>
    </message>
    <message>
        <source>The port must be a whole number from 1024 to 65535 ({0} is not): ports below 1024 need administrator rights.</source>
        <translation>端口必须是 1024 到 65535 之间的整数（{0} 不是）：低于 1024 的端口需要管理员权限。</translation>
    </message>
    <message>
        <source>The speech threshold must be a number from 0.05 to 0.95 ({0} is not): lower hears quieter speech but also more noise.</source>
        <translation>语音阈值必须是 0.05 到 0.95 之间的数字（{0} 不是）：越低越能听到轻声说话，但也会收进更多噪声。</translation>
    </message>
    <message>
        <source>The end-of-speech silence must be a whole number of milliseconds from 100 to 3000 ({0} is not): shorter ends a line sooner, longer waits through pauses.</source>
        <translation>语音结束静音必须是 100 到 3000 之间的整数毫秒（{0} 不是）：越短断句越快，越长越能容忍停顿。</translation>
    </message>
    <message>
        <source>The device must be Automatic, CPU or CUDA, not &apos;{0}&apos;.</source>
        <translation>设备必须是“自动”、CPU 或 CUDA，而不是“{0}”。</translation>
    </message>
    <message>
        <source>&apos;{0}&apos; is not a compute type ASR Tray offers: choose Default, int8, int8_float16, int16, float16 or float32.</source>
        <translation>“{0}”不是 ASR Tray 提供的计算类型：请选择“默认”、int8、int8_float16、int16、float16 或 float32。</translation>
    </message>
    <message>
        <source>&apos;{0}&apos; is not a language Whisper knows: choose one from the list, or Automatic to detect the language.</source>
        <translation>“{0}”不是 Whisper 支持的语言：请从列表中选择，或选择“自动”以识别语言。</translation>
    </message>
    <message>
        <source>The interface language must be the system&apos;s, English or Simplified Chinese, not &apos;{0}&apos;.</source>
        <translation>界面语言必须是系统语言、英语或简体中文，而不是“{0}”。</translation>
    </message>
    <message>
        <source>The captions text size must be a whole number from 8 to 48 points ({0} is not).</source>
        <translation>字幕字号必须是 8 到 48 磅之间的整数（{0} 不是）。</translation>
    </message>
    <message>
        <source>This setting must be text, not {0}.</source>
        <translation>此设置必须是文本，而不是 {0}。</translation>
    </message>
    <message>
        <source>This setting must be on or off, not {0}.</source>
        <translation>此设置必须是开或关，而不是 {0}。</translation>
    </message>
</context>
<context>
    <name>SettingsWindow</name>
    <message>
        <source>ASR Tray — Settings</source>
        <translation>ASR Tray — 设置</translation>
    </message>
    <message>
        <source>Service</source>
        <translation>服务</translation>
    </message>
    <message>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Captions</source>
        <translation>字幕</translation>
    </message>
    <message>
        <source>General</source>
        <translation>常规</translation>
    </message>
    <message>
        <source>A Whisper model name, or a folder with a CTranslate2 model (see the Models page)</source>
        <translation>Whisper 模型名称，或包含 CTranslate2 模型的文件夹（见“模型”页）</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Automatic (the GPU when there is one)</source>
        <translation>自动（有 GPU 时使用 GPU）</translation>
    </message>
    <message>
        <source>CPU</source>
        <translation>CPU</translation>
    </message>
    <message>
        <source>CUDA (NVIDIA GPU)</source>
        <translation>CUDA（NVIDIA GPU）</translation>
    </message>
    <message>
        <source>Device</source>
        <translation>设备</translation>
    </message>
    <message>
        <source>Default for the device (int8 on CPU, float16 on CUDA)</source>
        <translation>设备默认值（CPU 上为 int8，CUDA 上为 float16）</translation>
    </message>
    <message>
        <source>Compute type</source>
        <translation>计算类型</translation>
    </message>
    <message>
        <source>1024 to 65535</source>
        <translation>1024 到 65535</translation>
    </message>
    <message>
        <source>Port</source>
        <translation>端口</translation>
    </message>
    <message>
        <source>Start the speech service when ASR Tray starts</source>
        <translation>ASR Tray 启动时启动语音服务</translation>
    </message>
    <message>
        <source>Changing the model, the device or the compute type restarts the speech worker (a few seconds). Changing the port restarts the service; other programs then find it at the new address.</source>
        <translation>更改模型、设备或计算类型会重启语音工作进程（需要几秒钟）。更改端口会重启服务；其他程序随后需在新地址找到它。</translation>
    </message>
    <message>
        <source>Automatic (detect the language)</source>
        <translation>自动（检测语言）</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <source>System default</source>
        <translation>系统默认</translation>
    </message>
    <message>
        <source>Microphone</source>
        <translation>麦克风</translation>
    </message>
    <message>
        <source>0.05 to 0.95</source>
        <translation>0.05 到 0.95</translation>
    </message>
    <message>
        <source>How sure the voice detector must be that a moment is speech: lower hears quieter speech but also more noise.</source>
        <translation>语音检测器要有多大把握才把一段声音当作语音：调低可听到更轻的语音，但也会收进更多噪音。</translation>
    </message>
    <message>
        <source>Speech threshold</source>
        <translation>语音阈值</translation>
    </message>
    <message>
        <source>100 to 3000</source>
        <translation>100 到 3000</translation>
    </message>
    <message>
        <source>How long a pause ends a line of captions.</source>
        <translation>停顿多长时间结束一行字幕。</translation>
    </message>
    <message>
        <source>End-of-speech silence</source>
        <translation>语音结束静音</translation>
    </message>
    <message>
        <source>ms</source>
        <translation>毫秒</translation>
    </message>
    <message>
        <source>These settings apply the next time live captions start.</source>
        <translation>这些设置在下次开始实时字幕时生效。</translation>
    </message>
    <message>
        <source>Start ASR Tray when I log in</source>
        <translation>登录时启动 ASR Tray</translation>
    </message>
    <message>
        <source>The system&apos;s language</source>
        <translation>系统语言</translation>
    </message>
    <message>
        <source>Interface language</source>
        <translation>界面语言</translation>
    </message>
    <message>
        <source>The interface language changes the next time ASR Tray starts.</source>
        <translation>界面语言将在下次启动 ASR Tray 时更改。</translation>
    </message>
    <message>
        <source>Nothing was saved: correct the values marked in red.</source>
        <translation>未保存任何内容：请更正标为红色的值。</translation>
    </message>
    <message>
        <source>Checking the model folder before saving…</source>
        <translation>保存前正在检查模型文件夹…</translation>
    </message>
    <message>
        <source>Saved. The service restarts to use the new settings.</source>
        <translation>已保存。服务将重启以使用新设置。</translation>
    </message>
    <message>
        <source>Saved.</source>
        <translation>已保存。</translation>
    </message>
    <message>
        <source>Checking the folder {0}…</source>
        <translation>正在检查文件夹 {0}…</translation>
    </message>
    <message>
        <source>The model {0} knows only English: choose a multilingual model (such as base) on the Models page to caption other languages.</source>
        <translation>模型 {0} 只懂英语：要为其他语言生成字幕，请在“模型”页选择一个多语言模型（例如 base）。</translation>
    </message>
    <message>
        <source>{0} (not connected)</source>
        <translation>{0}（未连接）</translation>
    </message>
</context>
<context>
    <name>StatusPoller</name>
    <message>
        <source>The service at {url} did not answer: {error}</source>
        <translation>位于 {url} 的服务没有响应：{error}</translation>
    </message>
</context>
<context>
    <name>StatusWindow</name>
    <message>
        <source>Role</source>
        <translation>角色</translation>
    </message>
    <message>
        <source>PID</source>
        <translation>PID</translation>
    </message>
    <message>
        <source>State</source>
        <translation>状态</translation>
    </message>
    <message>
        <source>Uptime</source>
        <translation>运行时长</translation>
    </message>
    <message>
        <source>CPU %</source>
        <translation>CPU %</translation>
    </message>
    <message>
        <source>RSS</source>
        <translation>内存（RSS）</translation>
    </message>
    <message>
        <source>GPU memory</source>
        <translation>GPU 显存</translation>
    </message>
    <message>
        <source>{s} s</source>
        <translation>{s} 秒</translation>
    </message>
    <message>
        <source>{m} min {s:02d} s</source>
        <translation>{m} 分 {s:02d} 秒</translation>
    </message>
    <message>
        <source>{h} h {m:02d} min</source>
        <translation>{h} 小时 {m:02d} 分</translation>
    </message>
    <message>
        <source>ASR Tray — Status</source>
        <translation>ASR Tray — 状态</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Copy the service&apos;s address, for other programs</source>
        <translation>复制服务地址，供其他程序使用</translation>
    </message>
    <message>
        <source>Copy the token that control requests need</source>
        <translation>复制控制请求所需的令牌</translation>
    </message>
    <message>
        <source>Service</source>
        <translation>服务</translation>
    </message>
    <message>
        <source>URL</source>
        <translation>地址</translation>
    </message>
    <message>
        <source>Token</source>
        <translation>令牌</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Device</source>
        <translation>设备</translation>
    </message>
    <message>
        <source>Worker restarts</source>
        <translation>工作进程重启次数</translation>
    </message>
    <message>
        <source>GPU</source>
        <translation>GPU</translation>
    </message>
</context>
<context>
    <name>StreamClient</name>
    <message>
        <source>Live captions stopped because of an internal error ({error}). Press Start to try again; the log has the details.</source>
        <translation>实时字幕因内部错误而停止（{error}）。请按“开始”重试；日志中有详细信息。</translation>
    </message>
    <message>
        <source>Live captions could not connect to the ASR service at {url} ({error}). Check that the service is running (tray menu, Status), then press Start again.</source>
        <translation>实时字幕无法连接到位于 {url} 的 ASR 服务（{error}）。请确认服务正在运行（托盘菜单 →“状态”），然后再按“开始”。</translation>
    </message>
    <message>
        <source>The ASR service did not finish the last words within {s} s after Stop; the captions so far are kept.</source>
        <translation>按下“停止”后，ASR 服务没有在 {s} 秒内转写完最后的内容；已有的字幕会保留。</translation>
    </message>
    <message>
        <source>{message} Press Start to caption again.</source>
        <translation>{message} 按“开始”可再次生成字幕。</translation>
    </message>
    <message>
        <source>code {code}</source>
        <translation>代码 {code}</translation>
    </message>
    <message>
        <source>The ASR service ended the stream ({why}). Press Start to begin again.</source>
        <translation>ASR 服务结束了字幕流（{why}）。请按“开始”重新开始。</translation>
    </message>
    <message>
        <source>The ASR service sent something unreadable ({error}). Press Start to begin again.</source>
        <translation>ASR 服务发来了无法读取的内容（{error}）。请按“开始”重新开始。</translation>
    </message>
</context>
<context>
    <name>SubtitleOverlay</name>
    <message>
        <source>Live captions</source>
        <translation>实时字幕</translation>
    </message>
    <message>
        <source>Live captions appear here.</source>
        <translation>实时字幕会显示在这里。</translation>
    </message>
    <message>
        <source>Hide the subtitle overlay</source>
        <translation>隐藏悬浮字幕</translation>
    </message>
</context>
<context>
    <name>SweepReport</name>
    <message>
        <source>{what} pid {pid} (found by {how})</source>
        <translation>{what}（PID {pid}，通过{how}发现）</translation>
    </message>
    <message>
        <source>Every process of the ASR service stopped cleanly.</source>
        <translation>ASR 服务的所有进程都已正常停止。</translation>
    </message>
    <message>
        <source>The ASR service left process(es) behind, which were ended: {which}.</source>
        <translation>ASR 服务留下了进程，现已结束：{which}。</translation>
    </message>
    <message>
        <source>Could not end pid {pids}: end them with &apos;asr-service leftovers --kill&apos; or your task manager.</source>
        <translation>无法结束 PID {pids}：请用“asr-service leftovers --kill”或任务管理器结束它们。</translation>
    </message>
</context>
<context>
    <name>TranscriptView</name>
    <message>
        <source>Captions appear here while you speak.</source>
        <translation>说话时，字幕会显示在这里。</translation>
    </message>
</context>
<context>
    <name>Tray</name>
    <message>
        <source>stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <source>starting…</source>
        <translation>正在启动…</translation>
    </message>
    <message>
        <source>running</source>
        <translation>运行中</translation>
    </message>
    <message>
        <source>stopping…</source>
        <translation>正在停止…</translation>
    </message>
    <message>
        <source>error</source>
        <translation>出错</translation>
    </message>
    <message>
        <source>ASR Tray — service {state}, live captions listening</source>
        <translation>ASR Tray — 服务{state}，实时字幕正在收听</translation>
    </message>
    <message>
        <source>ASR Tray — service {state}</source>
        <translation>ASR Tray — 服务{state}</translation>
    </message>
    <message>
        <source>Model: {model} on {device}</source>
        <translation>模型：{model}（{device}）</translation>
    </message>
    <message>
        <source>Model: {model}</source>
        <translation>模型：{model}</translation>
    </message>
    <message>
        <source>Address: {url}</source>
        <translation>地址：{url}</translation>
    </message>
    <message>
        <source>Worker PID: {pid}</source>
        <translation>工作进程 PID：{pid}</translation>
    </message>
</context>
<context>
    <name>TrayApp</name>
    <message>
        <source>Live captions are not available in this installation ({why}). Transcribing files through the service still works; reinstall ASR Tray to get live captions.</source>
        <translation>此安装中无法使用实时字幕（{why}）。通过服务转写文件仍然可用；重新安装 ASR Tray 即可使用实时字幕。</translation>
    </message>
    <message>
        <source>ASR service failed</source>
        <translation>ASR 服务出错</translation>
    </message>
    <message>
        <source>GPU: in use</source>
        <translation>GPU：使用中</translation>
    </message>
    <message>
        <source>GPU: {size}</source>
        <translation>GPU：{size}</translation>
    </message>
    <message>
        <source>RAM: {size} (worker)</source>
        <translation>内存：{size}（工作进程）</translation>
    </message>
    <message>
        <source>Leftover workers found</source>
        <translation>发现残留的工作进程</translation>
    </message>
    <message numerus="yes">
        <source>%n process(es) of an earlier ASR Tray run are still running and hold memory. Use &apos;Kill leftover workers&apos; in the menu to see and end them.</source>
        <translation>
            <numerusform>之前运行的 ASR Tray 留下了 %n 个进程仍在运行并占用内存。请使用菜单中的“结束残留的工作进程”查看并结束它们。</numerusform>
        </translation>
    </message>
    <message>
        <source>Leftover workers</source>
        <translation>残留的工作进程</translation>
    </message>
    <message>
        <source>ASR Tray — Leftover workers</source>
        <translation>ASR Tray — 残留的工作进程</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>Restarting the ASR service to use the new settings (model {model}, port {port}); this takes a few seconds.</source>
        <translation>正在重启 ASR 服务以使用新设置（模型 {model}，端口 {port}），需要几秒钟。</translation>
    </message>
    <message>
        <source>The interface language changes the next time ASR Tray starts.</source>
        <translation>界面语言将在下次启动 ASR Tray 时更改。</translation>
    </message>
    <message>
        <source>Open log folder</source>
        <translation>打开日志文件夹</translation>
    </message>
    <message>
        <source>No file manager could open the log folder. The logs are in {folder}.</source>
        <translation>没有文件管理器能打开日志文件夹。日志位于 {folder}。</translation>
    </message>
    <message>
        <source>Live captions</source>
        <translation>实时字幕</translation>
    </message>
    <message>
        <source>ASR Tray — {title}</source>
        <translation>ASR Tray — {title}</translation>
    </message>
</context>
<context>
    <name>Words</name>
    <message>
        <source>tray</source>
        <translation>托盘</translation>
    </message>
    <message>
        <source>service</source>
        <translation>服务</translation>
    </message>
    <message>
        <source>worker</source>
        <translation>工作进程</translation>
    </message>
    <message>
        <source>resource tracker</source>
        <translation>资源跟踪器</translation>
    </message>
    <message>
        <source>stopped</source>
        <translation>已停止</translation>
    </message>
    <message>
        <source>starting</source>
        <translation>正在启动</translation>
    </message>
    <message>
        <source>running</source>
        <translation>运行中</translation>
    </message>
    <message>
        <source>stopping</source>
        <translation>正在停止</translation>
    </message>
    <message>
        <source>error</source>
        <translation>出错</translation>
    </message>
    <message>
        <source>exited</source>
        <translation>已退出</translation>
    </message>
    <message>
        <source>ready</source>
        <translation>就绪</translation>
    </message>
    <message>
        <source>restarting</source>
        <translation>正在重启</translation>
    </message>
    <message>
        <source>load failed</source>
        <translation>加载失败</translation>
    </message>
    <message>
        <source>gave up</source>
        <translation>已放弃</translation>
    </message>
    <message>
        <source>no GPU</source>
        <translation>无 GPU</translation>
    </message>
    <message>
        <source>in use</source>
        <translation>使用中</translation>
    </message>
    <message>
        <source>markers</source>
        <translation>环境标记</translation>
    </message>
    <message>
        <source>registry</source>
        <translation>登记记录</translation>
    </message>
    <message>
        <source>markers and registry</source>
        <translation>环境标记和登记记录</translation>
    </message>
</context>
</TS>
