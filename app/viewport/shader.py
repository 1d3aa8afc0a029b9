"""The viewport's shader and the GL state each kind of item is drawn with.

pyqtgraph's own "shaded" program lights from behind the viewer (faces turned to the camera come
out at 20 %); `HEADLIGHT` is a head light plus a weak fill, two-sided. Normals are per face, so
lighting each vertex gives the same picture as lighting each fragment, for less work.

GL contexts. pyqtgraph compiles each shader program once per process, so an application with
more than one GL view over its lifetime sets Qt.AA_ShareOpenGLContexts before it creates the
QApplication (`app/screenshot.py` does).
"""

from __future__ import annotations

from OpenGL import GL
from pyqtgraph.opengl import shaders

HEADLIGHT = "sketchforge-headlight"

shaders.ShaderProgram(HEADLIGHT, [
    shaders.VertexShader("""
        uniform mat4 u_mvp;
        uniform mat3 u_normal;
        attribute vec4 a_position;
        attribute vec3 a_normal;
        attribute vec4 a_color;
        varying vec4 v_color;
        void main() {
            vec3 n = normalize(u_normal * a_normal);
            float key = abs(dot(n, vec3(0.3041, 0.3909, 0.8687)));
            float fill = abs(dot(n, vec3(-0.7682, -0.3841, 0.5121)));
            v_color = vec4(min(a_color.rgb * (0.40 + 0.45 * key + 0.15 * fill), vec3(1.0)), a_color.a);
            gl_Position = u_mvp * a_position;
        }
    """),
    shaders.FragmentShader("""
        #ifdef GL_ES
        precision mediump float;
        #endif
        varying vec4 v_color;
        void main() {
            gl_FragColor = v_color;
        }
    """),
])

# Every item states each switch it depends on: GL state carries over from one item to the next.
SOLID_GL = {GL.GL_DEPTH_TEST: True, GL.GL_BLEND: False, GL.GL_CULL_FACE: False, "glDepthMask": (GL.GL_TRUE,),
            GL.GL_POLYGON_OFFSET_FILL: True, "glPolygonOffset": (1.0, 1.0)}
LINE_GL = {GL.GL_DEPTH_TEST: True, GL.GL_BLEND: True, GL.GL_CULL_FACE: False, "glDepthMask": (GL.GL_TRUE,),
           GL.GL_POLYGON_OFFSET_FILL: False,
           "glBlendFuncSeparate": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA, GL.GL_ONE,
                                   GL.GL_ONE_MINUS_SRC_ALPHA)}
POINT_GL = {GL.GL_DEPTH_TEST: True, GL.GL_BLEND: False, GL.GL_CULL_FACE: False, "glDepthMask": (GL.GL_TRUE,),
            GL.GL_POLYGON_OFFSET_FILL: False}
# Added material: its faces are pulled in front of the model's where they coincide (no stripes where
# the two triangulations fight over depth) and write no depth, so the preview's own edges stay visible.
GHOST_GL = {**LINE_GL, "glDepthMask": (GL.GL_FALSE,), GL.GL_POLYGON_OFFSET_FILL: True,
            "glPolygonOffset": (-1.0, -1.0)}
# A preview drawn in its own colors (a scene): opaque, and in front of the model's faces where they coincide.
OPAQUE_GHOST_GL = {**SOLID_GL, "glPolygonOffset": (-1.0, -1.0)}
# Removed material lies inside the model by definition: it is drawn through it (x-ray), faces and edges.
XRAY_GL = {**LINE_GL, GL.GL_DEPTH_TEST: False, "glDepthMask": (GL.GL_FALSE,)}
